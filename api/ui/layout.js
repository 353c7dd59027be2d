// A diagram for definitions that have none. flyt runs files without BPMN DI (its example apps
// have none), but bpmn-js draws only what the DI places; this lays the process out left to
// right in columns by longest path from the start events (back edges routed below), and adds
// the DI to the parsed definitions. Nothing else in the definitions changes.
(function () {
  'use strict';

  var SIZES = {
    event: { width: 36, height: 36 },
    gateway: { width: 50, height: 50 },
    activity: { width: 100, height: 80 }
  };

  function sizeOf(element) {
    var t = element.$type;
    if (/Event$/.test(t)) return SIZES.event;
    if (/Gateway$/.test(t)) return SIZES.gateway;
    return SIZES.activity;
  }

  function hasDiagram(definitions) {
    var d = definitions.diagrams && definitions.diagrams[0];
    return !!(d && d.plane && d.plane.planeElement && d.plane.planeElement.length);
  }

  // Adds a diagram to `definitions` (a bpmn-moddle Definitions) when it has none; answers
  // whether it did.
  function ensureDiagram(moddle, definitions) {
    if (hasDiagram(definitions)) return false;
    var process = (definitions.rootElements || []).filter(function (e) { return e.$type === 'bpmn:Process'; })[0];
    if (!process) return false;
    var elements = process.flowElements || [];
    var nodes = elements.filter(function (e) { return e.$type !== 'bpmn:SequenceFlow'; });
    if (!nodes.length) return false;
    var flows = elements.filter(function (e) { return e.$type === 'bpmn:SequenceFlow' && e.sourceRef && e.targetRef; });
    var out = {};
    nodes.forEach(function (n) { out[n.id] = []; });
    flows.forEach(function (f) { if (out[f.sourceRef.id]) out[f.sourceRef.id].push(f); });
    // A boundary event is laid out after its task (an edge only for the ordering, never drawn)
    // and then placed on the task's lower border.
    var boundaries = nodes.filter(function (n) { return n.$type === 'bpmn:BoundaryEvent' && n.attachedToRef && out[n.attachedToRef.id]; });
    boundaries.forEach(function (b) { out[b.attachedToRef.id].push({ id: '__attached_' + b.id, targetRef: b }); });

    // Depth-first from the start events (then from anything unvisited): an edge to a node on
    // the current path is a back edge; the rest form a DAG, laid out by longest path.
    var state = {};
    var back = {};
    var order = [];
    function visit(n) {
      state[n.id] = 1;
      out[n.id].forEach(function (f) {
        var t = f.targetRef;
        if (state[t.id] === 1) back[f.id] = true;
        else if (!state[t.id] && out[t.id]) visit(t);
      });
      state[n.id] = 2;
      order.push(n);
    }
    nodes.filter(function (n) { return n.$type === 'bpmn:StartEvent'; }).forEach(function (n) { if (!state[n.id]) visit(n); });
    nodes.forEach(function (n) { if (!state[n.id]) visit(n); });
    order.reverse();
    var level = {};
    order.forEach(function (n) { if (level[n.id] === undefined) level[n.id] = 0; });
    order.forEach(function (n) {
      out[n.id].forEach(function (f) {
        if (back[f.id] || level[f.targetRef.id] === undefined) return;
        level[f.targetRef.id] = Math.max(level[f.targetRef.id], level[n.id] + 1);
      });
    });
    var rows = {};
    var centre = {};
    order.forEach(function (n) {
      var l = level[n.id];
      var row = rows[l] || 0;
      rows[l] = row + 1;
      centre[n.id] = { x: 80 + l * 170, y: 120 + row * 130 };
    });
    var onHost = {};
    boundaries.forEach(function (b) {
      var host = b.attachedToRef;
      var k = onHost[host.id] = (onHost[host.id] || 0) + 1;
      var h = sizeOf(host);
      centre[b.id] = { x: centre[host.id].x - h.width / 2 + 30 * k, y: centre[host.id].y + h.height / 2 };
    });
    var bounds = {};
    var planeElements = [];
    nodes.forEach(function (n) {
      var s = sizeOf(n);
      var c = centre[n.id];
      bounds[n.id] = { x: c.x - s.width / 2, y: c.y - s.height / 2, width: s.width, height: s.height };
      var shape = moddle.create('bpmndi:BPMNShape', {
        id: n.id + '_di',
        bpmnElement: n,
        bounds: moddle.create('dc:Bounds', bounds[n.id])
      });
      if (/Gateway$/.test(n.$type)) shape.isMarkerVisible = true;
      planeElements.push(shape);
    });
    var lowest = 0;
    nodes.forEach(function (n) { lowest = Math.max(lowest, bounds[n.id].y + bounds[n.id].height); });
    flows.forEach(function (f, i) {
      var s = bounds[f.sourceRef.id];
      var t = bounds[f.targetRef.id];
      if (!s || !t) return;
      var points;
      if (back[f.id] || t.x <= s.x) {
        var below = lowest + 30 + (i % 3) * 12;
        points = [
          { x: s.x + s.width / 2, y: s.y + s.height },
          { x: s.x + s.width / 2, y: below },
          { x: t.x + t.width / 2, y: below },
          { x: t.x + t.width / 2, y: t.y + t.height }
        ];
      } else {
        var sy = s.y + s.height / 2;
        var ty = t.y + t.height / 2;
        points = sy === ty
          ? [{ x: s.x + s.width, y: sy }, { x: t.x, y: ty }]
          : [{ x: s.x + s.width / 2, y: ty > sy ? s.y + s.height : s.y }, { x: s.x + s.width / 2, y: ty }, { x: t.x, y: ty }];
      }
      planeElements.push(moddle.create('bpmndi:BPMNEdge', {
        id: f.id + '_di',
        bpmnElement: f,
        waypoint: points.map(function (p) { return moddle.create('dc:Point', p); })
      }));
    });
    var plane = moddle.create('bpmndi:BPMNPlane', { id: process.id + '_plane', bpmnElement: process, planeElement: planeElements });
    var diagram = moddle.create('bpmndi:BPMNDiagram', { id: process.id + '_diagram', plane: plane });
    // The parent links the XML reader sets and the modeler follows when it edits (without them
    // deleting an element of a laid-out diagram fails).
    planeElements.forEach(function (di) {
      di.$parent = plane;
      if (di.bounds) di.bounds.$parent = di;
      (di.waypoint || []).forEach(function (p) { p.$parent = di; });
    });
    plane.$parent = diagram;
    diagram.$parent = definitions;
    definitions.set('diagrams', [diagram]);
    return true;
  }

  // Parses `xml` with the viewer's moddle, lays it out if it has no diagram, and imports it.
  // Answers {warnings, laidOut}.
  function importWithLayout(viewer, xml) {
    var moddle = viewer.get('moddle');
    return moddle.fromXML(xml, 'bpmn:Definitions').then(function (parsed) {
      var laidOut = ensureDiagram(moddle, parsed.rootElement);
      return viewer.importDefinitions(parsed.rootElement).then(function (imported) {
        return { warnings: (parsed.warnings || []).concat((imported && imported.warnings) || []), laidOut: laidOut };
      });
    });
  }

  window.flytLayout = { ensureDiagram: ensureDiagram, importWithLayout: importWithLayout };
})();
