// The designer: bpmn-js's modeler with the Altinn and flyt extensions declared (moddle.js),
// Altinn task types, a timer event and createInstance in the palette, a properties form, a Problems panel fed
// by the server's own validator (POST /{org}/{app}/process/definition/validate, debounced as
// the designer edits), deploy (PUT .../process/definition) and download.
(function () {
  'use strict';
  var f = window.flyt;
  var el = f.el;

  var TASK_TYPES = ['data', 'confirmation', 'feedback', 'signing', 'payment'];
  var DEFAULT_ACTIONS = { confirmation: ['confirm'], signing: ['sign', 'reject'], payment: ['pay', 'reject'], feedback: [], data: [] };

  // Palette entries for what flyt adds: the Altinn task types and the createInstance task.
  function FlytPalette(palette, create, elementFactory, bpmnFactory) {
    function altinnTask(type) {
      return function (event) {
        var moddle = bpmnFactory._model;
        var ext = moddle.create('altinn:TaskExtension', { taskType: type });
        var actions = DEFAULT_ACTIONS[type];
        if (actions.length) {
          ext.actions = moddle.create('altinn:Actions', {
            action: actions.map(function (a) { return moddle.create('altinn:Action', { value: a }); })
          });
        }
        var bo = bpmnFactory.create('bpmn:Task', {
          name: type.charAt(0).toUpperCase() + type.slice(1),
          extensionElements: moddle.create('bpmn:ExtensionElements', { values: [ext] })
        });
        create.start(event, elementFactory.createShape({ type: 'bpmn:Task', businessObject: bo }));
      };
    }
    function createInstanceTask(event) {
      var moddle = bpmnFactory._model;
      var config = moddle.create('flyt:CreateInstance', { target: '' });
      var bo = bpmnFactory.create('bpmn:ServiceTask', {
        name: 'Create instance',
        extensionElements: moddle.create('bpmn:ExtensionElements', { values: [config] })
      });
      bo.set('flyt:type', 'createInstance');
      create.start(event, elementFactory.createShape({ type: 'bpmn:ServiceTask', businessObject: bo }));
    }
    function timerEvent(event) {
      var moddle = bpmnFactory._model;
      var def = moddle.create('bpmn:TimerEventDefinition', {
        timeDuration: moddle.create('bpmn:FormalExpression', { body: 'PT1H' })
      });
      var bo = bpmnFactory.create('bpmn:IntermediateCatchEvent', { eventDefinitions: [def] });
      def.$parent = bo;
      create.start(event, elementFactory.createShape({ type: 'bpmn:IntermediateCatchEvent', businessObject: bo, eventDefinitionType: 'bpmn:TimerEventDefinition' }));
    }
    this.getPaletteEntries = function () {
      var entries = { 'flyt-separator': { group: 'flyt', separator: true } };
      TASK_TYPES.forEach(function (type) {
        var start = altinnTask(type);
        entries['altinn-' + type] = {
          group: 'flyt',
          className: 'bpmn-icon-task flyt-palette flyt-palette-' + type,
          title: 'Altinn ' + type + ' task',
          action: { dragstart: start, click: start }
        };
      });
      entries['flyt-timer'] = {
        group: 'flyt',
        className: 'bpmn-icon-intermediate-event-catch-timer flyt-palette flyt-palette-timer',
        title: 'Timer: wait (an intermediate timer event; drop one on a task\'s border for a deadline)',
        action: { dragstart: timerEvent, click: timerEvent }
      };
      entries['flyt-create-instance'] = {
        group: 'flyt',
        className: 'bpmn-icon-service-task flyt-palette flyt-palette-create',
        title: 'createInstance service task (creates an instance of another app)',
        action: { dragstart: createInstanceTask, click: createInstanceTask }
      };
      return entries;
    };
    palette.registerProvider(this);
  }
  FlytPalette.$inject = ['palette', 'create', 'elementFactory', 'bpmnFactory'];

  var modeler = new window.BpmnJS({
    container: '#canvas',
    moddleExtensions: window.flytModdle,
    additionalModules: [{ __init__: ['flytPalette'], flytPalette: ['type', FlytPalette] }]
  });
  window.flytDesigner = modeler; // for the browser tests' assertions, and the console

  var appSelect = document.getElementById('app');
  var versionSelect = document.getElementById('version');
  var problemsList = document.getElementById('problems');
  var problemsSummary = document.getElementById('problems-summary');
  var form = document.getElementById('properties');
  var importWarnings = [];
  var serverProblems = [];
  var marked = [];
  var validateTimer = null;
  var validateSeq = 0;

  function currentApp() {
    return appSelect.value || null;
  }

  // ---- opening ---------------------------------------------------------------------------

  function open(xml, what) {
    return window.flytLayout.importWithLayout(modeler, xml).then(function (result) {
      // moddle keeps attributes it does not know (and says so); unknown elements it drops.
      importWarnings = result.warnings.filter(function (w) {
        return !/^unknown attribute </.test(w.message || '');
      }).map(function (w) {
        return { severity: 'warning', code: 'not-kept', message: 'the designer cannot keep this on save: ' + (w.message || String(w)) };
      });
      modeler.get('canvas').zoom('fit-viewport', 'auto');
      f.announce('Opened ' + what + (result.laidOut ? ' (laid out: the file has no diagram)' : ''));
      f.alertError('');
      renderProperties(null);
      scheduleValidate(0);
    }).catch(function (e) {
      f.alertError('Cannot open ' + what + ': ' + e.message);
    });
  }

  function openTemplate() {
    return fetch('/ui/template.bpmn', { credentials: 'omit' }).then(function (r) { return r.text(); })
      .then(function (xml) { return open(xml, 'the template'); });
  }

  var EMPTY = '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" ' +
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:altinn="http://altinn.no/process" ' +
    'xmlns:flyt="urn:flyt:bpmn:1" id="Definitions" targetNamespace="urn:flyt:designer">' +
    '<bpmn:process id="Process" isExecutable="true"/>' +
    '<bpmndi:BPMNDiagram id="Diagram"><bpmndi:BPMNPlane id="Plane" bpmnElement="Process"/></bpmndi:BPMNDiagram>' +
    '</bpmn:definitions>';

  function loadApps() {
    return f.api('GET', '/apps').then(function (r) {
      if (!r.ok) { f.alertError('Cannot list apps: ' + r.problem); return; }
      var previous = appSelect.value;
      f.clear(appSelect);
      r.body.apps.forEach(function (a) {
        appSelect.appendChild(el('option', { value: a.id }, a.id + (a.title ? ' — ' + a.title : '')));
      });
      if (previous) appSelect.value = previous;
      return loadVersions();
    });
  }

  function loadVersions() {
    var app = currentApp();
    f.clear(versionSelect);
    versionSelect.appendChild(el('option', { value: '' }, 'latest'));
    if (!app) return Promise.resolve();
    return f.api('GET', '/' + app + '/process/definition').then(function (r) {
      if (!r.ok) { f.alertError('Cannot read the definition of ' + app + ': ' + r.problem); return; }
      var latest = Number(r.headers.get('x-definition-version')) || 0;
      for (var v = latest; v >= 1; v--) versionSelect.appendChild(el('option', { value: String(v) }, 'version ' + v));
    });
  }

  function openDeployed() {
    var app = currentApp();
    if (!app) { f.alertError('Choose an app first (sign in to list them).'); return Promise.resolve(); }
    var v = versionSelect.value;
    return f.api('GET', '/' + app + '/process/definition' + (v ? '?version=' + encodeURIComponent(v) : '')).then(function (r) {
      if (!r.ok) { f.alertError('Cannot open ' + app + ': ' + r.problem); return; }
      return open(r.body, app + ' version ' + r.headers.get('x-definition-version'));
    });
  }

  function openFile(input) {
    var file = input.files && input.files[0];
    if (!file) return;
    file.text().then(function (xml) { return open(xml, file.name); });
    input.value = '';
  }

  // ---- comparing with a deployed version -------------------------------------------------

  // Every flow element of a definitions tree, by id, as a comparable text: its type, name,
  // references, condition and extensions (serialised without ids of generated DI).
  function elementsOf(definitions) {
    var out = {};
    (definitions.rootElements || []).forEach(function (root) {
      (root.flowElements || []).forEach(function (e) {
        var ext = e.extensionElements ? JSON.stringify(e.extensionElements.values || [], function (k, v) {
          return k.charAt(0) === '$' && k !== '$type' ? undefined : v;
        }) : '';
        out[e.id] = [e.$type, e.name || '', e.sourceRef ? e.sourceRef.id : '', e.targetRef ? e.targetRef.id : '',
          e.conditionExpression ? e.conditionExpression.body : '', e.default ? e.default.id : '',
          e.get('flyt:type') || '', e.get('altinn:tasktype') || '', ext].join('|');
      });
    });
    return out;
  }

  function compare() {
    var app = currentApp();
    var v = versionSelect.value;
    if (!app) { f.alertError('Choose an app first.'); return Promise.resolve(); }
    var moddle = modeler.get('moddle');
    return f.api('GET', '/' + app + '/process/definition' + (v ? '?version=' + encodeURIComponent(v) : '')).then(function (r) {
      if (!r.ok) { f.alertError('Cannot read ' + app + ': ' + r.problem); return; }
      var version = r.headers.get('x-definition-version');
      return moddle.fromXML(r.body, 'bpmn:Definitions').then(function (parsed) {
        var before = elementsOf(parsed.rootElement);
        var now = elementsOf(modeler.getDefinitions());
        var changes = [];
        Object.keys(now).forEach(function (id) {
          if (!(id in before)) changes.push({ id: id, what: 'added' });
          else if (before[id] !== now[id]) changes.push({ id: id, what: 'changed' });
        });
        Object.keys(before).forEach(function (id) { if (!(id in now)) changes.push({ id: id, what: 'removed' }); });
        var list = f.clear(document.getElementById('changes'));
        var canvas = modeler.get('canvas');
        var registry = modeler.get('elementRegistry');
        registry.forEach(function (e) { canvas.removeMarker(e.id, 'flyt-changed'); });
        changes.forEach(function (c) {
          var label = c.what + ': ' + c.id;
          if (c.what !== 'removed' && registry.get(c.id)) {
            canvas.addMarker(c.id, 'flyt-changed');
            list.appendChild(el('li', null, el('button', { type: 'button', class: 'problem change', 'data-change': c.what, 'data-element': c.id,
              onclick: function () { focusElement(c.id); } }, label)));
          } else {
            list.appendChild(el('li', null, el('span', { class: 'problem change', 'data-change': c.what, 'data-element': c.id }, label)));
          }
        });
        document.getElementById('changes-section').hidden = false;
        document.getElementById('changes-summary').textContent = changes.length
          ? changes.length + ' element(s) differ from ' + app + ' version ' + version + '.'
          : 'The same elements as ' + app + ' version ' + version + '.';
      });
    });
  }

  // ---- validation and problems -------------------------------------------------------------

  function scheduleValidate(delay) {
    clearTimeout(validateTimer);
    validateTimer = setTimeout(validate, delay === undefined ? 400 : delay);
  }

  function validate() {
    var app = currentApp();
    if (!app || !f.hasToken()) {
      serverProblems = [];
      renderProblems(f.hasToken() ? 'Choose an app to validate against.' : 'Sign in to validate with the server.');
      return Promise.resolve();
    }
    var seq = ++validateSeq;
    return modeler.saveXML({ format: true }).then(function (saved) {
      return f.api('POST', '/' + app + '/process/definition/validate', { xml: saved.xml });
    }).then(function (r) {
      if (seq !== validateSeq) return; // a newer edit is being validated
      if (!r.ok) {
        serverProblems = [];
        renderProblems('Not validated: ' + r.problem);
        return;
      }
      serverProblems = r.body.diagnostics;
      renderProblems();
    }).catch(function (e) {
      renderProblems('Not validated: ' + e.message);
    });
  }

  function renderProblems(note) {
    var registry = modeler.get('elementRegistry');
    var canvas = modeler.get('canvas');
    marked.forEach(function (m) { if (registry.get(m.id)) canvas.removeMarker(m.id, m.marker); });
    marked = [];
    f.clear(problemsList);
    var all = importWarnings.concat(serverProblems);
    all.forEach(function (p) {
      var severity = p.severity || 'error';
      var where = p.line ? ' (line ' + p.line + (p.column ? ':' + p.column : '') + ')' : '';
      var label = severity + (p.code ? ' [' + p.code + ']' : '') + (p.elementId ? ' ' + p.elementId + ': ' : ': ') + p.message + where;
      var item;
      if (p.elementId && registry.get(p.elementId)) {
        var marker = severity === 'warning' ? 'flyt-warning' : 'flyt-error';
        canvas.addMarker(p.elementId, marker);
        marked.push({ id: p.elementId, marker: marker });
        item = el('button', { type: 'button', class: 'problem ' + severity, 'data-element': p.elementId,
          onclick: function () { focusElement(p.elementId); } }, label);
      } else {
        item = el('span', { class: 'problem ' + severity }, label);
      }
      problemsList.appendChild(el('li', null, item));
    });
    var errors = all.filter(function (p) { return (p.severity || 'error') === 'error'; }).length;
    problemsSummary.textContent = note || (all.length === 0
      ? 'No problems: the server would accept this definition.'
      : errors + ' error(s), ' + (all.length - errors) + ' warning(s).');
    problemsSummary.className = errors ? 'has-errors' : '';
  }

  function focusElement(id) {
    var element = modeler.get('elementRegistry').get(id);
    if (!element) return;
    modeler.get('selection').select(element);
    modeler.get('canvas').scrollToElement(element);
    f.announce('Selected ' + id);
  }

  // ---- deploy and download -----------------------------------------------------------------

  function deploy() {
    var app = currentApp();
    if (!app) { f.alertError('Choose an app to deploy to.'); return Promise.resolve(); }
    return modeler.saveXML({ format: true }).then(function (saved) {
      return f.api('PUT', '/' + app + '/process/definition', { xml: saved.xml });
    }).then(function (r) {
      if (r.ok) {
        f.alertError('');
        f.announce((r.body.unchanged ? 'Unchanged: ' + app + ' version ' : 'Deployed ' + app + ' version ') + r.body.version);
        serverProblems = r.body.warnings || [];
        renderProblems();
        return loadVersions();
      }
      if (r.body && r.body.issues) {
        serverProblems = r.body.issues;
        renderProblems('Deploy refused: ' + r.problem);
      }
      f.alertError('Deploy refused (' + r.status + '): ' + r.problem);
    });
  }

  function download() {
    modeler.saveXML({ format: true }).then(function (saved) {
      var blob = new Blob([saved.xml], { type: 'application/xml' });
      var url = URL.createObjectURL(blob);
      var a = el('a', { href: url, download: (currentApp() || 'process').replace('/', '-') + '.bpmn' });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    });
  }

  // ---- properties --------------------------------------------------------------------------

  function bo(element) {
    return element.businessObject;
  }

  function extension(element, type) {
    var ext = bo(element).extensionElements;
    return ext && (ext.values || []).filter(function (v) { return v.$instanceOf(type) || v.$type === type; })[0];
  }

  // The Altinn task extension, whichever Altinn namespace the file uses.
  function taskExtension(element) {
    return extension(element, 'altinn:TaskExtension') || extension(element, 'altinnv7:TaskExtension');
  }

  function setExtension(element, type, value) {
    var moddle = modeler.get('moddle');
    var modeling = modeler.get('modeling');
    var business = bo(element);
    var ext = business.extensionElements;
    var values = ext ? (ext.values || []).filter(function (v) { return v.$type !== type; }) : [];
    if (value) values.push(value);
    if (!ext) {
      ext = moddle.create('bpmn:ExtensionElements', { values: values });
      modeling.updateProperties(element, { extensionElements: ext });
    } else {
      modeling.updateModdleProperties(element, ext, { values: values });
    }
  }

  function field(id, labelText, input, help) {
    input.id = id;
    var row = el('div', { class: 'field' }, el('label', { for: id }, labelText), input);
    if (help) {
      var helpId = id + '-help';
      input.setAttribute('aria-describedby', helpId);
      row.appendChild(el('p', { id: helpId, class: 'help' }, help));
    }
    return row;
  }

  function textInput(value, onchange) {
    return el('input', { type: 'text', value: value || '', autocomplete: 'off', onchange: function (e) { onchange(e.target.value); } });
  }

  function renderProperties(element) {
    f.clear(form);
    if (!element || element.type === 'label' || !bo(element) || element.type === 'bpmn:Process') {
      form.appendChild(el('p', null, 'Select an element.'));
      return;
    }
    var modeling = modeler.get('modeling');
    var moddle = modeler.get('moddle');
    var business = bo(element);
    form.appendChild(el('p', { class: 'kind' }, element.type.replace('bpmn:', '')));
    form.appendChild(field('prop-id', 'Id', textInput(business.id, function (v) {
      if (!/^[A-Za-z_][\w.-]*$/.test(v)) { f.alertError('An id starts with a letter or _ and has no spaces.'); return; }
      modeling.updateProperties(element, { id: v });
    })));
    form.appendChild(field('prop-name', 'Name', textInput(business.name, function (v) {
      modeling.updateLabel(element, v);
    })));

    if (element.type === 'bpmn:Task' || element.type === 'bpmn:UserTask') {
      var ext = taskExtension(element);
      var current = ext ? ext.taskType : business.get('altinn:tasktype');
      var select = el('select', null, el('option', { value: '' }, '(none: a plain task)'));
      TASK_TYPES.forEach(function (t) { select.appendChild(el('option', { value: t }, t)); });
      select.value = current || '';
      select.addEventListener('change', function () {
        var type = select.value;
        var existing = taskExtension(element);
        if (!type) { setExtension(element, existing ? existing.$type : 'altinn:TaskExtension', null); renderProperties(element); return; }
        if (existing) {
          modeling.updateModdleProperties(element, existing, { taskType: type });
        } else {
          setExtension(element, 'altinn:TaskExtension', moddle.create('altinn:TaskExtension', { taskType: type }));
        }
        renderProperties(element);
      });
      form.appendChild(field('prop-task-type', 'Altinn task type', select));
      var ext2 = taskExtension(element);
      if (ext2) {
        var prefix = ext2.$type.split(':')[0];
        // An action is named by its text or (the newer form) its id attribute.
        var actionName = function (a) { return (a.value || a.id || '').trim(); };
        var existing = ext2.actions ? ext2.actions.action || [] : [];
        form.appendChild(field('prop-actions', 'Actions (comma-separated)', textInput(existing.map(actionName).join(', '), function (v) {
          var list = v.split(',').map(function (s) { return s.trim(); }).filter(Boolean);
          // Actions still listed keep their element (and its type="serverAction" or id).
          var value = list.length ? moddle.create(prefix + ':Actions', {
            action: list.map(function (name) {
              var kept = existing.filter(function (a) { return actionName(a) === name; })[0];
              return kept || moddle.create(prefix + ':Action', { value: name });
            })
          }) : undefined;
          modeling.updateModdleProperties(element, ext2, { actions: value });
        }), 'e.g. confirm, reject; the gateway after the task sees the action as gatewayAction'));
        if (ext2.taskType === 'signing') renderSignatureConfig(element, ext2);
      }
    }

    if (element.type === 'bpmn:ServiceTask') {
      // The handler is named by flyt:type, or by the Altinn task type (element or attribute);
      // the form edits whichever the file uses, so the two never disagree.
      var altinnExt = taskExtension(element);
      var handler = business.get('flyt:type') || (altinnExt && altinnExt.taskType) || business.get('altinn:tasktype') || '';
      form.appendChild(field('prop-handler', 'Handler', textInput(handler, function (v) {
        v = v.trim();
        if (altinnExt && altinnExt.taskType && !business.get('flyt:type')) {
          modeling.updateModdleProperties(element, altinnExt, { taskType: v || undefined });
        } else if (business.get('altinn:tasktype') && !business.get('flyt:type')) {
          modeling.updateProperties(element, { 'altinn:tasktype': v || undefined });
        } else {
          modeling.updateProperties(element, { 'flyt:type': v || undefined });
        }
        renderProperties(element);
      }), 'createInstance, or a handler or external job type the server knows'));
      if (handler === 'createInstance') renderCreateInstance(element);
    }

    // A PDF task (Altinn's service task type `pdf`) or any task that carries a pdfConfig.
    var pdfExt = /Task$/.test(element.type) ? taskExtension(element) : null;
    if (pdfExt && (pdfExt.taskType === 'pdf' || pdfExt.pdfConfig)) renderPdfConfig(element, pdfExt);

    var timerDef = (business.eventDefinitions || []).filter(function (d) { return d.$type === 'bpmn:TimerEventDefinition'; })[0];
    if (timerDef && (element.type === 'bpmn:IntermediateCatchEvent' || element.type === 'bpmn:BoundaryEvent')) {
      renderTimer(element, timerDef);
    }

    if (element.type === 'bpmn:ExclusiveGateway' || element.type === 'bpmn:InclusiveGateway') {
      var gw = extension(element, 'altinn:GatewayExtension');
      form.appendChild(field('prop-data-type', 'Data type for conditions (connectedDataTypeId)', textInput(gw && gw.connectedDataTypeId, function (v) {
        setExtension(element, 'altinn:GatewayExtension', v ? moddle.create('altinn:GatewayExtension', { connectedDataTypeId: v }) : null);
      })));
      var def = el('select', null, el('option', { value: '' }, '(no default flow)'));
      (business.outgoing || []).forEach(function (flow) { def.appendChild(el('option', { value: flow.id }, flow.id + (flow.name ? ' (' + flow.name + ')' : ''))); });
      def.value = business.default ? business.default.id : '';
      def.addEventListener('change', function () {
        var flow = (business.outgoing || []).filter(function (o) { return o.id === def.value; })[0];
        modeling.updateProperties(element, { default: flow || undefined });
      });
      form.appendChild(field('prop-default', 'Default flow', def));
    }

    if (element.type === 'bpmn:SequenceFlow') {
      var source = business.sourceRef;
      var expr = business.conditionExpression ? business.conditionExpression.body : '';
      var check = el('p', { id: 'prop-condition-check', class: 'help', 'aria-live': 'polite' });
      var area = el('textarea', { rows: 3, cols: 30, spellcheck: 'false' });
      area.value = expr || '';
      var showCheck = function () { check.textContent = checkExpression(area.value); };
      area.addEventListener('input', showCheck);
      area.addEventListener('change', function () {
        var v = area.value.trim();
        modeling.updateProperties(element, {
          conditionExpression: v ? moddle.create('bpmn:FormalExpression', { body: v }) : undefined
        });
      });
      form.appendChild(field('prop-condition', 'Condition (Altinn expression)', area));
      form.appendChild(check);
      showCheck();
      if (source && (source.$type === 'bpmn:ExclusiveGateway' || source.$type === 'bpmn:InclusiveGateway')) {
        var isDefault = el('input', { type: 'checkbox', id: 'prop-is-default' });
        isDefault.checked = source.default === business;
        isDefault.addEventListener('change', function () {
          var gateway = modeler.get('elementRegistry').get(source.id);
          modeling.updateProperties(gateway, { default: isDefault.checked ? business : undefined });
        });
        form.appendChild(el('div', { class: 'field check' }, isDefault, el('label', { for: 'prop-is-default' }, 'Default flow of ' + source.id)));
      }
    }
  }

  // A timer event's value: one of timeDuration, timeDate, timeCycle (a literal, or an Altinn
  // expression in [...] read when the timer is armed); for a boundary event, whether it
  // interrupts its task. The server's validator checks the value as the designer types.
  var TIMER_KINDS = [
    ['timeDuration', 'Duration (ISO 8601, e.g. PT15M, P14D)'],
    ['timeDate', 'Date (RFC 3339, e.g. 2027-01-01T09:00:00Z)'],
    ['timeCycle', 'Cycle (e.g. R3/PT1H, R/2027-01-01T00:00:00Z/P1M)']
  ];
  function renderTimer(element, def) {
    var modeling = modeler.get('modeling');
    var moddle = modeler.get('moddle');
    var kind = TIMER_KINDS.map(function (k) { return k[0]; }).filter(function (k) { return def[k]; })[0] || 'timeDuration';
    var current = def[kind] ? def[kind].body : '';
    var select = el('select', { id: 'prop-timer-kind' });
    TIMER_KINDS.forEach(function (k) { select.appendChild(el('option', { value: k[0] }, k[1])); });
    select.value = kind;
    var input = textInput(current, function (v) { set(select.value, v.trim()); });
    input.id = 'prop-timer-value';
    function set(newKind, value) {
      var props = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      if (value) props[newKind] = moddle.create('bpmn:FormalExpression', { body: value });
      modeling.updateModdleProperties(element, def, props);
    }
    select.addEventListener('change', function () { set(select.value, input.value.trim()); });
    form.appendChild(field('prop-timer-kind', 'Timer', select));
    form.appendChild(field('prop-timer-value', 'Value', input, 'or an expression over the data, e.g. ["dataModel", "deadline", "case"]'));
    if (element.type === 'bpmn:BoundaryEvent') {
      var interrupting = el('input', { type: 'checkbox', id: 'prop-interrupting' });
      interrupting.checked = bo(element).cancelActivity !== false;
      interrupting.addEventListener('change', function () {
        modeling.updateProperties(element, { cancelActivity: interrupting.checked });
      });
      form.appendChild(el('div', { class: 'field check' }, interrupting, el('label', { for: 'prop-interrupting' }, 'Interrupting: ends the task when the timer fires')));
    }
  }

  // The signing task's <altinn:signatureConfig>: what to sign, where signatures go. Other
  // children of the config (correspondence resources, signee providers, ...) are kept as they are.
  function renderSignatureConfig(element, ext) {
    var modeling = modeler.get('modeling');
    var moddle = modeler.get('moddle');
    var prefix = ext.$type.split(':')[0];
    var config = function () {
      if (!ext.signatureConfig) modeling.updateModdleProperties(element, ext, { signatureConfig: moddle.create(prefix + ':SignatureConfig', {}) });
      return ext.signatureConfig;
    };
    var current = ext.signatureConfig;
    var toSign = current && current.dataTypesToSign ? current.dataTypesToSign.dataType || [] : [];
    form.appendChild(field('prop-sign-types', 'Data types to sign (comma-separated)', textInput(toSign.join(', '), function (v) {
      var list = v.split(',').map(function (x) { return x.trim(); }).filter(Boolean);
      modeling.updateModdleProperties(element, config(), {
        dataTypesToSign: list.length ? moddle.create(prefix + ':DataTypesToSign', { dataType: list }) : undefined
      });
    })));
    form.appendChild(field('prop-signature-type', 'Signature data type', textInput(current && current.signatureDataType, function (v) {
      modeling.updateModdleProperties(element, config(), { signatureDataType: v.trim() || undefined });
    }), 'the data type the signatures are stored as'));
  }

  // The PDF task's <altinn:pdfConfig>: which tasks' data go into the PDF, which tasks get one
  // automatically, and the file name's text resource. A list left empty removes its element; the
  // config is created only when something is set, so opening and saving changes nothing.
  function renderPdfConfig(element, ext) {
    var modeling = modeler.get('modeling');
    var moddle = modeler.get('moddle');
    var prefix = ext.$type.split(':')[0];
    var config = function () {
      if (!ext.pdfConfig) modeling.updateModdleProperties(element, ext, { pdfConfig: moddle.create(prefix + ':PdfConfig', {}) });
      return ext.pdfConfig;
    };
    var current = ext.pdfConfig;
    var list = function (v) { return v.split(',').map(function (x) { return x.trim(); }).filter(Boolean); };
    var include = current && current.tasksToIncludeInPdf ? current.tasksToIncludeInPdf.task || [] : [];
    form.appendChild(field('prop-pdf-tasks', 'PDF: tasks to include (comma-separated ids)', textInput(include.join(', '), function (v) {
      var ids = list(v);
      modeling.updateModdleProperties(element, config(), {
        tasksToIncludeInPdf: ids.length ? moddle.create(prefix + ':TasksToIncludeInPdf', { task: ids }) : undefined
      });
    }), 'the tasks whose data the PDF shows (tasksToIncludeInPdf)'));
    var auto = current && current.autoPdfTaskIds ? current.autoPdfTaskIds.taskId || [] : [];
    form.appendChild(field('prop-pdf-auto', 'PDF: automatic PDF task ids (comma-separated)', textInput(auto.join(', '), function (v) {
      var ids = list(v);
      modeling.updateModdleProperties(element, config(), {
        autoPdfTaskIds: ids.length ? moddle.create(prefix + ':AutoPdfTaskIds', { taskId: ids }) : undefined
      });
    }), 'autoPdfTaskIds'));
    form.appendChild(field('prop-pdf-filename', 'PDF: file name text resource key', textInput(current && current.filenameTextResourceKey, function (v) {
      modeling.updateModdleProperties(element, config(), { filenameTextResourceKey: v.trim() || undefined });
    }), 'filenameTextResourceKey: a text resource of the app'));
  }

  // A first check as the designer types (JSON, an array with a function name); the server's
  // validator gives the full answer in the Problems panel once the change is committed.
  function checkExpression(text) {
    var t = text.trim();
    if (!t) return 'No condition.';
    var value;
    try { value = JSON.parse(t); } catch (e) { return 'Not valid JSON: ' + e.message; }
    if (typeof value === 'boolean') return 'A constant condition.';
    if (!Array.isArray(value) || typeof value[0] !== 'string') return 'An expression is an array whose first item names a function, e.g. ["equals", ["gatewayAction"], "reject"].';
    return 'Well-formed; the server checks the functions (see Problems).';
  }

  function renderCreateInstance(element) {
    var modeling = modeler.get('modeling');
    var moddle = modeler.get('moddle');
    var config = extension(element, 'flyt:CreateInstance');
    if (!config) {
      config = moddle.create('flyt:CreateInstance', { target: '' });
      setExtension(element, 'flyt:CreateInstance', config);
    }
    form.appendChild(field('prop-target', 'Target app (org/app)', textInput(config.target, function (v) {
      modeling.updateModdleProperties(element, config, { target: v });
    })));
    var owner = config.owner;
    var ownerText = owner ? (owner.organisationNumber || (owner.from ? 'from:' + owner.from : owner.path ? 'path:' + owner.path : '')) : '';
    form.appendChild(field('prop-owner', 'Owner', textInput(ownerText, function (v) {
      v = v.trim();
      var attrs = {};
      if (/^\d{9}$/.test(v)) attrs.organisationNumber = v;
      else if (v.indexOf('from:') === 0) attrs.from = v.slice(5);
      else if (v.indexOf('path:') === 0) attrs.path = v.slice(5);
      modeling.updateModdleProperties(element, config, { owner: v ? moddle.create('flyt:Owner', attrs) : undefined });
    }), 'an organisation number, from:instanceOwner, or path:a.b.c'));
    var lines = (config.prefill || []).map(function (p) { return (p.from !== undefined ? p.from : JSON.stringify(p.value)) + ' -> ' + p.to; });
    var area = el('textarea', { rows: 3, cols: 30, spellcheck: 'false' });
    area.value = lines.join('\n');
    area.addEventListener('change', function () {
      var prefill = area.value.split('\n').map(function (l) { return l.split('->'); }).filter(function (p) { return p.length === 2 && p[1].trim(); })
        .map(function (p) {
          var from = p[0].trim();
          return /^".*"$/.test(from)
            ? moddle.create('flyt:Prefill', { value: JSON.parse(from), to: p[1].trim() })
            : moddle.create('flyt:Prefill', { from: from, to: p[1].trim() });
        });
      modeling.updateModdleProperties(element, config, { prefill: prefill });
    });
    form.appendChild(field('prop-prefill', 'Prefill (from -> to, one per line)', area, 'a dot path in this app\'s data, or a "quoted value"'));
  }

  // ---- editing with the keyboard ------------------------------------------------------------
  // bpmn-js binds its shortcuts to the diagram's SVG (focusable, tabindex 0) by itself; what it
  // lacks is a way to pick an element and to add one without a pointer. These controls do it
  // with the same services the palette and the context pad use.

  var elementPick = document.getElementById('element-pick');
  var appendType = document.getElementById('append-type');

  var TYPE_NAMES = {
    'bpmn:StartEvent': 'start event', 'bpmn:EndEvent': 'end event', 'bpmn:Task': 'task',
    'bpmn:UserTask': 'user task', 'bpmn:ServiceTask': 'service task', 'bpmn:SequenceFlow': 'flow',
    'bpmn:ExclusiveGateway': 'exclusive gateway', 'bpmn:InclusiveGateway': 'inclusive gateway',
    'bpmn:ParallelGateway': 'parallel gateway',
    'bpmn:IntermediateThrowEvent': 'intermediate event'
  };
  function describe(element) {
    var business = element.businessObject || {};
    var kind = TYPE_NAMES[element.type] || element.type.replace(/^bpmn:/, '');
    return (business.name ? business.name + ' — ' : '') + kind + ' (' + element.id + ')';
  }

  function refreshElementPick() {
    var root = modeler.get('canvas').getRootElement();
    var elements = modeler.get('elementRegistry').filter(function (e) {
      return e !== root && e.type !== 'label' && !e.labelTarget && e.businessObject;
    });
    elements.sort(function (a, b) {
      var ax = a.waypoints ? a.waypoints[0].x : a.x;
      var bx = b.waypoints ? b.waypoints[0].x : b.x;
      return (ax - bx) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
    var selected = modeler.get('selection').get();
    f.clear(elementPick);
    elementPick.appendChild(f.el('option', { value: '' }, '(none selected)'));
    elements.forEach(function (e) { elementPick.appendChild(f.el('option', { value: e.id }, describe(e))); });
    elementPick.value = selected.length === 1 && modeler.get('elementRegistry').get(selected[0].id) ? selected[0].id : '';
  }

  function appendElement() {
    var type = appendType.value;
    var selected = modeler.get('selection').get();
    var shape = modeler.get('elementFactory').createShape({ type: type });
    var created;
    try {
      if (selected.length === 1 && !selected[0].waypoints) {
        created = modeler.get('autoPlace').append(selected[0], shape);
      } else {
        // Nothing (or a flow, or several) selected: the new element stands on its own, right of
        // everything drawn so far.
        var root = modeler.get('canvas').getRootElement();
        var right = 100;
        modeler.get('elementRegistry').forEach(function (e) {
          if (e !== root && !e.waypoints && e.type !== 'label') right = Math.max(right, e.x + e.width);
        });
        created = modeler.get('modeling').createShape(shape, { x: right + 100, y: 200 }, root);
      }
    } catch (e) {
      f.alertError('Cannot add a ' + (TYPE_NAMES[type] || type) + ' here: ' + e.message);
      return;
    }
    f.alertError('');
    modeler.get('selection').select(created);
    modeler.get('canvas').scrollToElement(created);
    f.announce('Added ' + describe(created) + (selected.length === 1 && !selected[0].waypoints ? ' after ' + selected[0].id : ''));
  }

  function deleteSelected() {
    var selected = modeler.get('selection').get();
    if (!selected.length) { f.announce('Nothing is selected.'); return; }
    var ids = selected.map(function (e) { return e.id; });
    modeler.get('modeling').removeElements(selected.slice());
    f.announce('Deleted ' + ids.join(', '));
  }

  elementPick.addEventListener('change', function () {
    if (elementPick.value) focusElement(elementPick.value);
    else modeler.get('selection').select(null);
  });
  document.getElementById('append').addEventListener('click', appendElement);
  document.getElementById('delete-selected').addEventListener('click', deleteSelected);
  document.getElementById('undo').addEventListener('click', function () {
    if (modeler.get('commandStack').canUndo()) { modeler.get('commandStack').undo(); f.announce('Undone'); } else f.announce('Nothing to undo.');
  });
  document.getElementById('redo').addEventListener('click', function () {
    if (modeler.get('commandStack').canRedo()) { modeler.get('commandStack').redo(); f.announce('Redone'); } else f.announce('Nothing to redo.');
  });
  modeler.on(['import.done', 'commandStack.changed', 'selection.changed'], function () { refreshElementPick(); });

  // ---- wiring ------------------------------------------------------------------------------

  modeler.on('commandStack.changed', function () { scheduleValidate(); });
  modeler.on('selection.changed', function (e) { renderProperties(e.newSelection.length === 1 ? e.newSelection[0] : null); });
  // Undo, redo and edits on the canvas change the selected element under the form: show them,
  // unless the designer is typing in the form.
  modeler.on('elements.changed', function (e) {
    var selected = modeler.get('selection').get();
    if (selected.length !== 1 || form.contains(document.activeElement)) return;
    if (e.elements.indexOf(selected[0]) >= 0) renderProperties(selected[0]);
  });
  form.addEventListener('submit', function (e) { e.preventDefault(); });
  appSelect.addEventListener('change', function () { loadVersions(); scheduleValidate(0); });
  document.getElementById('open').addEventListener('click', openDeployed);
  document.getElementById('compare').addEventListener('click', compare);
  document.getElementById('new').addEventListener('click', openTemplate);
  document.getElementById('new-empty').addEventListener('click', function () { open(EMPTY, 'an empty diagram'); });
  document.getElementById('file').addEventListener('change', function (e) { openFile(e.target); });
  document.getElementById('deploy').addEventListener('click', deploy);
  document.getElementById('download').addEventListener('click', download);

  f.renderLogin(document.getElementById('login'), { designer: true });
  f.onToken(function (token) {
    if (token) loadApps().then(function () { scheduleValidate(0); });
    else renderProblems('Sign in to validate with the server.');
  });
  openTemplate();
})();
