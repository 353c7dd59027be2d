// Operate: instances per app (GET /{org}/{app}/instances, paged by its continuation token;
// owner as the API's partyId filter, the other filters applied to the page shown), and an
// instance page: its own definition version drawn with active tasks, the path taken and
// incidents marked, Retry (POST .../process/resume), the history and the data as text.
(function () {
  'use strict';
  var f = window.flyt;
  var el = f.el;

  var appSelect = document.getElementById('app');
  var tbody = document.querySelector('#instances tbody');
  var summary = document.getElementById('list-summary');
  var nextButton = document.getElementById('next-page');
  var listSection = document.getElementById('list-section');
  var instanceSection = document.getElementById('instance-section');
  var viewer = null;
  var pageToken = null;
  var nextToken = null;
  var shown = null; // {app, id}

  function stateOf(instance) {
    var p = instance.process || {};
    if (p.incidents && p.incidents.length) return 'incident';
    if (p.ended) return 'ended';
    return 'active';
  }

  function tasksOf(instance) {
    var p = instance.process || {};
    return (p.activeTasks || []).map(function (t) { return t.elementId; });
  }

  function loadApps() {
    return f.api('GET', '/apps').then(function (r) {
      if (!r.ok) { f.alertError('Cannot list apps: ' + r.problem); return; }
      var previous = appSelect.value;
      f.clear(appSelect);
      r.body.apps.forEach(function (a) { appSelect.appendChild(el('option', { value: a.id }, a.id)); });
      if (previous) appSelect.value = previous;
    });
  }

  function loadPage(token) {
    var app = appSelect.value;
    if (!app) { f.alertError('Choose an app (sign in to list them).'); return Promise.resolve(); }
    var query = ['limit=' + encodeURIComponent(document.getElementById('f-limit').value)];
    var party = document.getElementById('f-party').value.trim();
    if (party) query.push('partyId=' + encodeURIComponent(party));
    if (token) query.push('continuationToken=' + encodeURIComponent(token));
    return f.api('GET', '/' + app + '/instances?' + query.join('&')).then(function (r) {
      if (!r.ok) { f.alertError('Cannot list instances: ' + r.problem); return; }
      f.alertError('');
      pageToken = token || null;
      nextToken = r.body.continuationToken || null;
      nextButton.disabled = !nextToken;
      renderList(app, r.body.instances);
    });
  }

  function matches(instance) {
    var state = document.getElementById('f-state').value;
    var task = document.getElementById('f-task').value.trim();
    var from = document.getElementById('f-from').value;
    var to = document.getElementById('f-to').value;
    if (state && stateOf(instance) !== state) return false;
    if (task && tasksOf(instance).indexOf(task) < 0) return false;
    var created = (instance.created || '').slice(0, 10);
    if (from && created < from) return false;
    if (to && created > to) return false;
    return true;
  }

  function renderList(app, instances) {
    f.clear(tbody);
    var visible = instances.filter(matches);
    visible.forEach(function (instance) {
      var state = stateOf(instance);
      tbody.appendChild(el('tr', { 'data-instance': instance.id },
        el('td', null, el('button', { type: 'button', class: 'link', onclick: function () { openInstance(app, instance.id); } }, instance.id)),
        el('td', null, instance.instanceOwner.partyId || ''),
        el('td', null, el('span', { class: 'state ' + state }, state)),
        el('td', null, tasksOf(instance).join(', ') || (instance.process.endEvent ? 'ended at ' + instance.process.endEvent : '')),
        el('td', null, f.formatTime(instance.created)),
        el('td', null, f.formatTime(instance.lastChanged))));
    });
    renderCounts(app, visible);
    summary.textContent = visible.length + ' of ' + instances.length + ' instance(s) on this page match the filters' + (nextToken ? '; there are more pages.' : '.');
  }

  // How many of the listed instances wait at each element, on the app's latest version (counts
  // as overlays on the diagram, and as a list for screen readers).
  var appViewer = null;
  function renderCounts(app, instances) {
    var note = document.getElementById('counts-note');
    var list = f.clear(document.getElementById('counts'));
    var counts = {};
    instances.forEach(function (instance) {
      tasksOf(instance).forEach(function (id) { counts[id] = (counts[id] || 0) + 1; });
      var p = instance.process || {};
      if (p.ended && p.endEvent) counts[p.endEvent] = (counts[p.endEvent] || 0) + 1;
    });
    Object.keys(counts).forEach(function (id) { list.appendChild(el('li', null, id + ': ' + counts[id])); });
    return f.api('GET', '/' + app + '/process/definition').then(function (r) {
      if (!r.ok) {
        note.textContent = 'No diagram: reading definitions needs the designer right (' + r.problem + ').';
        return;
      }
      if (!appViewer) appViewer = new window.BpmnJS({ container: '#app-diagram', moddleExtensions: window.flytModdle });
      return window.flytLayout.importWithLayout(appViewer, r.body).then(function () {
        var overlays = appViewer.get('overlays');
        var registry = appViewer.get('elementRegistry');
        overlays.clear();
        appViewer.get('canvas').zoom('fit-viewport', 'auto');
        Object.keys(counts).forEach(function (id) {
          if (!registry.get(id)) return;
          overlays.add(id, { position: { top: -12, right: 12 }, html: el('span', { class: 'badge count', 'data-count-for': id }, String(counts[id])) });
        });
        note.textContent = 'Counts of the instances listed above, on version ' + r.headers.get('x-definition-version') + ' of the definition.';
      });
    });
  }

  // ---- the instance page -------------------------------------------------------------------

  function openInstance(app, id) {
    shown = { app: app, id: id };
    listSection.hidden = true;
    instanceSection.hidden = false;
    return renderInstance().then(function () { document.getElementById('instance-h').focus(); });
  }

  function base() {
    return '/' + shown.app + '/instances/' + shown.id;
  }

  function renderInstance() {
    var heading = document.getElementById('instance-h');
    heading.textContent = 'Instance ' + shown.id + ' of ' + shown.app;
    return Promise.all([f.api('GET', base()), f.api('GET', base() + '/process/history')]).then(function (answers) {
      var r = answers[0];
      var h = answers[1];
      if (!r.ok) { f.alertError('Cannot read the instance: ' + r.problem); return; }
      var instance = r.body;
      var history = h.ok ? h.body.processHistory : [];
      renderFacts(instance);
      renderIncidents(instance);
      renderHistory(history, h.ok ? null : h.problem);
      renderData(instance);
      return renderDiagram(instance, history);
    });
  }

  function renderFacts(instance) {
    var dl = f.clear(document.getElementById('instance-facts'));
    var p = instance.process || {};
    [['Owner', instance.instanceOwner.partyId],
      ['State', stateOf(instance)],
      ['Active tasks', (p.activeTasks || []).map(function (t) { return t.elementId + (t.name ? ' (' + t.name + ')' : ''); }).join(', ') || 'none'],
      ['Definition version', String(instance.definitionVersion)],
      ['Created', f.formatTime(instance.created)],
      ['Ended', p.ended ? f.formatTime(p.ended) + ' at ' + p.endEvent : '']
    ].forEach(function (pair) {
      if (!pair[1]) return;
      dl.appendChild(el('dt', null, pair[0]));
      dl.appendChild(el('dd', { 'data-fact': pair[0] }, pair[1]));
    });
  }

  function retry() {
    return f.api('POST', base() + '/process/resume').then(function (r) {
      if (!r.ok) { f.alertError('Retry refused (' + r.status + '): ' + r.problem); return; }
      f.alertError('');
      f.announce('Retried: the incident is cleared and its job runs again.');
      return renderInstance();
    });
  }

  function renderIncidents(instance) {
    var list = f.clear(document.getElementById('incidents'));
    var incidents = (instance.process && instance.process.incidents) || [];
    if (!incidents.length) { list.appendChild(el('li', null, 'None.')); return; }
    incidents.forEach(function (incident) {
      list.appendChild(el('li', { class: 'incident', 'data-element': incident.elementId },
        el('strong', null, incident.elementId), ': ', incident.lastError,
        ' (' + incident.reason + ', ' + incident.attempts + ' attempt(s), ' + f.formatTime(incident.raised) + ') ',
        el('button', { type: 'button', class: 'retry', onclick: retry }, 'Retry ' + incident.elementId)));
    });
  }

  function renderHistory(history, problem) {
    var list = f.clear(document.getElementById('history'));
    if (problem) { list.appendChild(el('li', null, 'History not readable: ' + problem)); return; }
    history.forEach(function (event) {
      var who = event.performedBy ? JSON.stringify(event.performedBy) : '';
      list.appendChild(el('li', null,
        el('time', { datetime: event.occured }, f.formatTime(event.occured)), ' ',
        el('strong', null, event.eventType), event.elementId ? ' ' + event.elementId : '',
        event.action ? ' (' + event.action + ')' : '', who ? ' by ' + who : '',
        event.details ? el('pre', null, JSON.stringify(event.details, null, 2)) : null));
    });
  }

  function renderData(instance) {
    var box = f.clear(document.getElementById('data'));
    var elements = instance.data || [];
    if (!elements.length) { box.appendChild(el('p', null, 'No data.')); return; }
    elements.forEach(function (d) {
      var pre = el('pre', { 'data-type': d.dataType, tabindex: 0 }, 'loading…');
      box.appendChild(el('h4', null, d.dataType));
      box.appendChild(pre);
      f.api('GET', base() + '/data/' + encodeURIComponent(d.dataType)).then(function (r) {
        pre.textContent = r.ok ? JSON.stringify(r.body, null, 2) : 'Not readable: ' + r.problem;
      });
    });
  }

  function renderDiagram(instance, history) {
    var note = document.getElementById('diagram-note');
    var url = '/' + shown.app + '/process/definition?version=' + encodeURIComponent(instance.definitionVersion);
    return f.api('GET', url).then(function (r) {
      if (!r.ok) {
        note.textContent = 'No diagram: reading definitions needs the designer right (' + r.problem + ').';
        if (viewer) viewer.clear();
        return;
      }
      if (!viewer) {
        viewer = new window.BpmnJS({ container: '#diagram', moddleExtensions: window.flytModdle });
        window.flytViewer = viewer;
      }
      return window.flytLayout.importWithLayout(viewer, r.body).then(function () {
        var canvas = viewer.get('canvas');
        var registry = viewer.get('elementRegistry');
        var overlays = viewer.get('overlays');
        overlays.clear();
        canvas.zoom('fit-viewport', 'auto');
        var taken = {};
        history.forEach(function (e) { if (e.elementId) taken[e.elementId] = true; });
        if (instance.process.startEvent) taken[instance.process.startEvent] = true;
        if (instance.process.endEvent) taken[instance.process.endEvent] = true;
        registry.forEach(function (element) {
          var b = element.businessObject;
          if (element.type === 'bpmn:SequenceFlow') {
            if (b.sourceRef && b.targetRef && taken[b.sourceRef.id] && taken[b.targetRef.id]) canvas.addMarker(element.id, 'flyt-taken');
          } else if (taken[element.id]) {
            canvas.addMarker(element.id, 'flyt-taken');
          }
        });
        (instance.process.activeTasks || []).forEach(function (t) {
          if (!registry.get(t.elementId)) return;
          canvas.addMarker(t.elementId, 'flyt-active');
          overlays.add(t.elementId, { position: { top: -22, left: 0 }, html: el('span', { class: 'badge active' }, 'active') });
        });
        (instance.process.incidents || []).forEach(function (incident) {
          if (!registry.get(incident.elementId)) return;
          canvas.addMarker(incident.elementId, 'flyt-incident');
          overlays.add(incident.elementId, {
            position: { bottom: -6, left: 0 },
            html: el('div', { class: 'incident-overlay' }, el('span', null, incident.lastError), ' ',
              el('button', { type: 'button', class: 'retry', onclick: retry }, 'Retry'))
          });
        });
        note.textContent = 'Definition version ' + instance.definitionVersion + '.';
      });
    });
  }

  // ---- wiring ------------------------------------------------------------------------------

  document.getElementById('filters').addEventListener('submit', function (e) { e.preventDefault(); loadPage(null); });
  document.getElementById('first-page').addEventListener('click', function () { loadPage(null); });
  nextButton.addEventListener('click', function () { if (nextToken) loadPage(nextToken); });
  document.getElementById('back').addEventListener('click', function () {
    instanceSection.hidden = true;
    listSection.hidden = false;
    loadPage(pageToken);
    document.getElementById('list-h').focus();
  });
  document.getElementById('reload').addEventListener('click', renderInstance);
  appSelect.addEventListener('change', function () { loadPage(null); });

  f.renderLogin(document.getElementById('login'), { operator: true, designer: true });
  f.onToken(function (token) {
    if (token) loadApps().then(function () { return loadPage(null); });
  });
})();
