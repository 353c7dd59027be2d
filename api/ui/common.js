// What both pages share: the bearer token (held in this variable only: never a cookie, never
// the URL, never localStorage), API calls, the sign-in panel, announcements, and `el`, which
// builds DOM from text (never from HTML), so names and data containing markup stay text.
(function () {
  'use strict';

  var token = null;
  var listeners = [];

  // el('button', {type: 'button', 'aria-label': 'x'}, 'text', otherNode): children are text
  // or nodes; attributes are set with setAttribute, never as HTML.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'onclick' || k === 'onchange' || k === 'oninput' || k === 'onsubmit') {
          node.addEventListener(k.slice(2), v);
        } else if (k === 'text') {
          node.textContent = String(v);
        } else {
          node.setAttribute(k, v === true ? '' : String(v));
        }
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  // Polite news in #status; errors in #alert (role=alert), so screen readers announce both.
  function announce(message) {
    var s = document.getElementById('status');
    if (s) s.textContent = message;
  }
  function alertError(message) {
    var a = document.getElementById('alert');
    if (a) {
      a.textContent = message;
      a.hidden = !message;
    }
  }

  // Calls the API. Answers {ok, status, headers, body} where body is the parsed JSON (or the
  // text for other media types); a problem+json body's `detail` is in `problem`.
  function api(method, path, options) {
    options = options || {};
    var headers = {};
    if (token) headers.authorization = 'Bearer ' + token;
    var body;
    if (options.xml !== undefined) {
      headers['content-type'] = 'application/xml';
      body = options.xml;
    } else if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    if (options.ifMatch) headers['if-match'] = options.ifMatch;
    return fetch(path, { method: method, headers: headers, body: body, credentials: 'omit', cache: 'no-store' })
      .then(function (response) {
        var type = response.headers.get('content-type') || '';
        var read = type.indexOf('json') >= 0 ? response.json() : response.text();
        return read.then(function (parsed) {
          var result = { ok: response.ok, status: response.status, headers: response.headers, body: parsed };
          if (!response.ok) {
            result.problem = (parsed && (parsed.detail || parsed.title || parsed.error_description || parsed.error)) ||
              ('HTTP ' + response.status);
          }
          return result;
        });
      });
  }

  function setToken(t, who) {
    token = t || null;
    var state = document.getElementById('signed-in');
    if (state) state.textContent = token ? 'Signed in' + (who ? ' as ' + who : ' with a pasted token') : 'Not signed in';
    var out = document.getElementById('sign-out');
    if (out) out.hidden = !token;
    // Signed in: fold the panel away to give the page the room.
    var box = document.getElementById('login-box');
    if (box) box.open = !token;
    listeners.forEach(function (f) { f(token); });
  }

  // The sign-in panel: with the development authority on, a picker asks it for a token — a test
  // user's (POST /authority/user-token) or an organisation's, a service owner's
  // (POST /authority/org-token), both the authority's own development routes; otherwise (and also
  // then) a token can be pasted, e.g. one from `flyt token org`.
  function renderLogin(container, defaults) {
    defaults = defaults || {};
    clear(container);
    var asUser = el('input', { id: 'login-kind-user', type: 'radio', name: 'login-kind', value: 'user' });
    var asOrg = el('input', { id: 'login-kind-org', type: 'radio', name: 'login-kind', value: 'org' });
    asUser.checked = true;
    var pid = el('input', { id: 'login-pid', type: 'text', inputmode: 'numeric', value: defaults.pid || '01017012345', autocomplete: 'off', size: 12 });
    var roles = el('input', { id: 'login-roles', type: 'text', value: '', placeholder: '991825827:DAGL', autocomplete: 'off', size: 16 });
    var orgno = el('input', { id: 'login-orgno', type: 'text', inputmode: 'numeric', value: defaults.orgno || '974760673', autocomplete: 'off', size: 10 });
    var orgCode = el('input', { id: 'login-orgcode', type: 'text', value: defaults.orgCode || 'ttd', autocomplete: 'off', size: 6 });
    var designer = el('input', { id: 'login-designer', type: 'checkbox' });
    var operator = el('input', { id: 'login-operator', type: 'checkbox' });
    var jobs = el('input', { id: 'login-jobs', type: 'checkbox' });
    designer.checked = !!defaults.designer;
    operator.checked = !!defaults.operator;
    var userFields = el('div', { id: 'login-user-fields' },
      el('label', { for: 'login-pid' }, 'Person number'), pid,
      el('label', { for: 'login-roles' }, 'Roles (ORGNO:CODE, comma-separated)'), roles);
    var orgFields = el('div', { id: 'login-org-fields', hidden: true },
      el('label', { for: 'login-orgno' }, 'Organisation number'), orgno,
      el('label', { for: 'login-orgcode' }, 'Org code (optional)'), orgCode,
      el('span', { class: 'check' }, jobs, el('label', { for: 'login-jobs' }, 'jobs scope')));
    function showKind() {
      userFields.hidden = !asUser.checked;
      orgFields.hidden = !asOrg.checked;
    }
    asUser.addEventListener('change', showKind);
    asOrg.addEventListener('change', showKind);
    function requestToken(path, body, who) {
      alertError('');
      fetch(path, {
        method: 'POST', credentials: 'omit', cache: 'no-store',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body)
      }).then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
        .then(function (r) {
          if (!r.ok) throw new Error(r.body.error_description || r.body.error || 'refused');
          setToken(r.body.access_token, who);
          announce('Signed in as ' + who);
        })
        .catch(function (e) { alertError('Sign-in failed: ' + e.message); });
    }
    var picker = el('fieldset', { id: 'dev-login', hidden: true },
      el('legend', null, 'Development authority: a test user or an organisation'),
      el('fieldset', { class: 'kind' },
        el('legend', null, 'Sign in as'),
        el('span', { class: 'check' }, asUser, el('label', { for: 'login-kind-user' }, 'a test user')),
        el('span', { class: 'check' }, asOrg, el('label', { for: 'login-kind-org' }, 'an organisation'))),
      userFields,
      orgFields,
      el('span', { class: 'check' }, designer, el('label', { for: 'login-designer' }, 'designer scope')),
      el('span', { class: 'check' }, operator, el('label', { for: 'login-operator' }, 'operator scope')),
      el('button', {
        type: 'button', id: 'login-get',
        onclick: function () {
          var scopes = [];
          if (designer.checked) scopes.push('flyt:designer');
          if (operator.checked) scopes.push('flyt:operator');
          if (asOrg.checked) {
            if (jobs.checked) scopes.push('flyt:jobs');
            var number = orgno.value.trim();
            var code = orgCode.value.trim();
            var body = { organisationNumber: number, scope: scopes.join(' ') };
            if (code) body.orgCode = code;
            requestToken('/authority/org-token', body, 'organisation ' + number + (code ? ' (' + code + ')' : ''));
            return;
          }
          var list = roles.value.split(',').map(function (r) { return r.trim(); }).filter(Boolean);
          requestToken('/authority/user-token', { pid: pid.value.trim(), roles: list, scope: scopes.join(' ') },
            'user ' + pid.value.trim());
        }
      }, 'Get token'));
    var pasted = el('textarea', { id: 'login-token', rows: 2, cols: 40, autocomplete: 'off', spellcheck: 'false' });
    var paste = el('fieldset', null,
      el('legend', null, 'Or paste a bearer token'),
      el('label', { for: 'login-token' }, 'Token'), pasted,
      el('button', {
        type: 'button', id: 'login-use',
        onclick: function () {
          var t = pasted.value.trim().replace(/^Bearer\s+/i, '');
          pasted.value = '';
          if (!t) { alertError('Paste a token first.'); return; }
          alertError('');
          setToken(t, null);
          announce('Signed in with a pasted token');
        }
      }, 'Use token'));
    container.appendChild(picker);
    container.appendChild(paste);
    // Who is signed in stays in sight (in the header) when the panel is folded away.
    (document.querySelector('header') || container).appendChild(el('p', { class: 'session' },
      el('span', { id: 'signed-in', role: 'status' }, 'Not signed in'), ' ',
      el('button', { type: 'button', id: 'sign-out', hidden: true, onclick: function () { setToken(null); announce('Signed out'); } }, 'Sign out')));
    // The picker only when this server runs the development authority.
    fetch('/authority/.well-known/oauth-authorization-server', { credentials: 'omit' })
      .then(function (r) { picker.hidden = !r.ok; })
      .catch(function () { picker.hidden = true; });
  }

  function formatTime(iso) {
    if (!iso) return '';
    return String(iso).replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC');
  }

  window.flyt = {
    el: el,
    clear: clear,
    api: api,
    announce: announce,
    alertError: alertError,
    renderLogin: renderLogin,
    onToken: function (f) { listeners.push(f); },
    hasToken: function () { return !!token; },
    formatTime: formatTime
  };
})();
