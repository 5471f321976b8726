// The live support widget. Plain browser JavaScript, no build step. Every piece of user content
// is put into the page with textContent, never as HTML.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('support-config').textContent);
  var t = config.strings;
  var me = config.me;
  var $ = function (id) { return document.getElementById(id); };

  var tickets = new Map(); // ticketId -> summary
  var current = null; // { ticketId, ticket, lastSeq, messages: Map(seq -> li), readBy: 0 }
  var pending = new Map(); // clientMessageId -> { ticketId, text, li, attempts }
  var scope = me.agent ? 'all' : 'mine';
  var typingTimer = null;
  var lastTypingSent = 0;
  var lastReadSent = 0;
  var readTimer = null;

  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }
  function format(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, key) { return String(values[key]); });
  }
  function errorText(error) {
    return (error && t['error_' + error.code]) || t.error_generic;
  }
  function notice(text, link) {
    var el = $('notice');
    el.textContent = text || '';
    if (link) {
      var a = document.createElement('a');
      a.href = link.href;
      a.textContent = link.label;
      el.appendChild(document.createTextNode(' '));
      el.appendChild(a);
    }
    el.hidden = !text;
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function statusLabel(status) { return t['status_' + status] || status; }
  function field(form, name) { return form.elements.namedItem(name); }

  var socket = io(config.namespace, { withCredentials: true });

  // ---- connection ----
  socket.on('connect', function () {
    notice('');
    loadList();
    if (current) joinTicket(current.ticketId, current.lastSeq);
    else if (config.initialTicket) {
      openTicket(config.initialTicket);
      config.initialTicket = null;
    }
    pending.forEach(function (_, id) { sendPending(id); });
  });
  socket.on('connect_error', function (error) {
    if (error && error.message === 'login_required') {
      $('presence').textContent = '';
      notice(t.loginRequired, { href: '/support/login?lang=' + config.lang, label: t.login });
    } else {
      $('presence').textContent = t.reconnecting;
    }
  });
  socket.on('disconnect', function (reason) {
    $('presence').textContent = t.reconnecting;
    // The server ended it (e.g. logged out elsewhere): try once; the handshake says why.
    if (reason === 'io server disconnect') setTimeout(function () { socket.connect(); }, 500);
  });
  socket.on('support:presence', function (p) {
    var n = p && typeof p.agentsOnline === 'number' ? p.agentsOnline : 0;
    if (me.agent) $('presence').textContent = n === 1 ? t.agentOnline : format(t.agentsOnline, { n: n });
    else $('presence').textContent = n === 0 ? t.noAgents : n === 1 ? t.agentOnline : format(t.agentsOnline, { n: n });
    $('presence').className = 'presence ' + (n === 0 ? 'offline' : 'online');
  });

  // ---- the list ----
  function renderList() {
    var list = $('tickets');
    list.textContent = '';
    var items = Array.from(tickets.values()).filter(function (ticket) {
      if (scope === 'queue') return ticket.status === 'open' && ticket.assignee === null;
      if (scope === 'assigned') return ticket.assignee === me.sub && ticket.status !== 'resolved';
      if (scope === 'mine') return ticket.openedBy === me.sub;
      return true;
    });
    items.sort(function (a, b) { return a.updatedAt < b.updatedAt ? 1 : -1; });
    items.forEach(function (ticket) {
      var li = el('li');
      li.dataset.ticketId = ticket.ticketId;
      var a = el('a', null, ticket.subject);
      a.href = '/support?ticket=' + encodeURIComponent(ticket.ticketId);
      a.addEventListener('click', function (event) { event.preventDefault(); openTicket(ticket.ticketId); });
      li.appendChild(a);
      li.appendChild(document.createTextNode(' '));
      li.appendChild(el('span', 'status status-' + ticket.status, statusLabel(ticket.status)));
      if (me.agent && ticket.openedByName) li.appendChild(el('span', 'opener', ' · ' + ticket.openedByName));
      if (ticket.unread) li.classList.add('unread');
      list.appendChild(li);
    });
    $('no-tickets').hidden = items.length > 0;
  }
  function loadList() {
    socket.emit('ticket:list', { scope: me.agent ? 'all' : 'mine' }, function (response) {
      if (!response || !response.ok) return;
      tickets.clear();
      response.tickets.forEach(function (ticket) { tickets.set(ticket.ticketId, ticket); });
      renderList();
    });
  }
  function remember(ticket) {
    var known = tickets.get(ticket.ticketId) || {};
    tickets.set(ticket.ticketId, Object.assign({}, known, ticket));
    renderList();
    if (current && current.ticketId === ticket.ticketId) showTicketHeader(tickets.get(ticket.ticketId));
  }
  document.querySelectorAll('.tabs button').forEach(function (button) {
    button.addEventListener('click', function () {
      scope = button.dataset.scope;
      $('list-title').textContent = button.textContent;
      renderList();
    });
  });

  // ---- a new ticket ----
  $('new-ticket').addEventListener('submit', function (event) {
    event.preventDefault();
    var form = event.target;
    var button = form.querySelector('button');
    button.disabled = true;
    var payload = { group: field(form, 'group').value, subject: field(form, 'subject').value, message: field(form, 'message').value, clientMessageId: newId() };
    socket.timeout(15000).emit('ticket:open', payload, function (timeout, response) {
      button.disabled = false;
      if (timeout) return notice(t.error_generic);
      if (!response.ok) return notice(errorText(response.error));
      notice('');
      form.reset();
      remember(response.ticket);
      openTicket(response.ticketId);
    });
  });

  // ---- one conversation ----
  function showTicketHeader(ticket) {
    $('ticket-subject').textContent = ticket.subject;
    $('ticket-status').textContent = statusLabel(ticket.status);
    $('ticket-status').className = 'status status-' + ticket.status;
    if ($('status-select')) $('status-select').value = ticket.status;
    if ($('assign-me')) $('assign-me').textContent = ticket.assignee === me.sub ? t.release : t.assignToMe;
    $('rate').hidden = !(ticket.openedBy === me.sub && ticket.status === 'resolved');
  }
  function authorLabel(message) {
    if (message.author === me.sub) return t.you;
    return message.authorRole === 'agent' ? t.agent : t.customer;
  }
  function addMessage(message) {
    if (!current || message.ticketId !== current.ticketId || current.messages.has(message.seq)) return;
    var li = el('li', 'message ' + (message.author === me.sub ? 'mine' : 'theirs'));
    li.dataset.seq = message.seq;
    var head = el('p', 'meta');
    head.appendChild(el('strong', null, authorLabel(message)));
    head.appendChild(document.createTextNode(' · ' + new Date(message.at).toLocaleString(config.lang)));
    li.appendChild(head);
    li.appendChild(el('p', 'text', message.text));
    if (message.author === me.sub) li.appendChild(el('p', 'receipt', message.seq <= current.readBy ? t.read : ''));
    // Keep the order by seq, whatever order they arrive in.
    var after = null;
    current.messages.forEach(function (node, seq) { if (seq > message.seq && (!after || seq < Number(after.dataset.seq))) after = node; });
    $('messages').insertBefore(li, after || pendingAnchor());
    current.messages.set(message.seq, li);
    if (message.seq > current.lastSeq) current.lastSeq = message.seq;
    if (message.author !== me.sub) markRead();
  }
  function pendingAnchor() {
    return $('messages').querySelector('li.pending');
  }
  function joinTicket(ticketId, afterSeq) {
    socket.emit('ticket:join', { ticketId: ticketId, afterSeq: afterSeq || 0 }, function (response) {
      if (!response.ok) return notice(errorText(response.error));
      if (!current || current.ticketId !== ticketId) return;
      remember(response.ticket);
      response.messages.forEach(addMessage);
      if (response.more) joinTicket(ticketId, current.lastSeq);
    });
  }
  function openTicket(ticketId) {
    if (current && current.ticketId !== ticketId) socket.emit('ticket:leave', { ticketId: current.ticketId });
    current = { ticketId: ticketId, lastSeq: 0, messages: new Map(), readBy: 0 };
    $('messages').textContent = '';
    $('typing').textContent = '';
    $('conversation').hidden = false;
    $('new').hidden = true;
    var known = tickets.get(ticketId);
    if (known) { known.unread = false; showTicketHeader(known); renderList(); }
    pending.forEach(function (p) { if (p.ticketId === ticketId) $('messages').appendChild(p.li); });
    history.replaceState(null, '', '/support?ticket=' + encodeURIComponent(ticketId));
    joinTicket(ticketId, 0);
  }
  $('back').addEventListener('click', function () {
    if (current) socket.emit('ticket:leave', { ticketId: current.ticketId });
    current = null;
    $('conversation').hidden = true;
    $('new').hidden = false;
    history.replaceState(null, '', '/support');
  });

  // ---- sending, with resends that cannot duplicate ----
  function sendPending(clientMessageId) {
    var p = pending.get(clientMessageId);
    if (!p || !socket.connected) return;
    p.attempts += 1;
    socket.timeout(10000).emit('ticket:message', { ticketId: p.ticketId, text: p.text, clientMessageId: clientMessageId }, function (timeout, response) {
      if (!pending.has(clientMessageId)) return;
      if (timeout) {
        p.li.querySelector('.receipt').textContent = t.retrying;
        return setTimeout(function () { sendPending(clientMessageId); }, Math.min(1000 * p.attempts, 10000));
      }
      pending.delete(clientMessageId);
      p.li.remove();
      if (!response.ok) return notice(errorText(response.error));
      notice('');
      addMessage({ ticketId: p.ticketId, seq: response.seq, author: me.sub, authorRole: 'user', text: p.text, at: response.at || new Date().toISOString() });
    });
  }
  $('reply').addEventListener('submit', function (event) {
    event.preventDefault();
    var text = $('reply-text').value;
    if (!current) return;
    if (!text.trim()) return notice(t.error_message_empty);
    var clientMessageId = newId();
    var li = el('li', 'message mine pending');
    li.appendChild(el('p', 'meta', t.you));
    li.appendChild(el('p', 'text', text));
    li.appendChild(el('p', 'receipt', t.sending));
    $('messages').appendChild(li);
    pending.set(clientMessageId, { ticketId: current.ticketId, text: text, li: li, attempts: 0 });
    $('reply-text').value = '';
    sendPending(clientMessageId);
  });
  $('reply-text').addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); $('reply').requestSubmit(); }
  });
  $('reply-text').addEventListener('input', function () {
    if (!current || Date.now() - lastTypingSent < 2000) return;
    lastTypingSent = Date.now();
    socket.emit('ticket:typing', { ticketId: current.ticketId });
  });

  // ---- live ----
  socket.on('ticket:message', function (message) {
    if (current && message.ticketId === current.ticketId) {
      addMessage(message);
      $('typing').textContent = '';
    } else {
      var known = tickets.get(message.ticketId);
      if (known) { known.unread = true; known.lastSeq = message.seq; known.updatedAt = message.at; renderList(); }
      else loadList();
    }
  });
  socket.on('ticket:updated', remember);
  socket.on('ticket:typing', function (typing) {
    if (!current || typing.ticketId !== current.ticketId || typing.author === me.sub) return;
    $('typing').textContent = format(t.typing, { who: typing.authorRole === 'agent' ? t.agent : t.customer });
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { $('typing').textContent = ''; }, 4000);
  });
  socket.on('ticket:read', function (mark) {
    if (!current || mark.ticketId !== current.ticketId || mark.reader === me.sub) return;
    current.readBy = Math.max(current.readBy, mark.seq);
    current.messages.forEach(function (li, seq) {
      var receipt = li.querySelector('.receipt');
      if (receipt && seq <= current.readBy) receipt.textContent = t.read;
    });
  });
  // At most one read mark a second, and the last one is never dropped.
  function markRead() {
    if (!current || document.visibilityState !== 'visible') return;
    var wait = 1000 - (Date.now() - lastReadSent);
    if (wait > 0) {
      if (!readTimer) readTimer = setTimeout(function () { readTimer = null; markRead(); }, wait);
      return;
    }
    lastReadSent = Date.now();
    socket.emit('ticket:read', { ticketId: current.ticketId, seq: current.lastSeq });
  }
  document.addEventListener('visibilitychange', markRead);

  // ---- agents ----
  if ($('status-select')) {
    $('status-select').addEventListener('change', function (event) {
      if (!current) return;
      socket.emit('ticket:status', { ticketId: current.ticketId, status: event.target.value }, function (response) {
        if (!response.ok) notice(errorText(response.error));
        else remember(response.ticket);
      });
    });
    $('assign-me').addEventListener('click', function () {
      if (!current) return;
      var mine = (tickets.get(current.ticketId) || {}).assignee === me.sub;
      socket.emit('ticket:assign', { ticketId: current.ticketId, assignee: mine ? null : me.sub }, function (response) {
        if (!response.ok) notice(errorText(response.error));
        else remember(response.ticket);
      });
    });
  }
  $('rate').addEventListener('submit', function (event) {
    event.preventDefault();
    if (!current) return;
    socket.emit('ticket:rate', { ticketId: current.ticketId, rating: Number(field(event.target, 'rating').value) }, function (response) {
      if (!response.ok) return notice(errorText(response.error));
      remember(response.ticket);
      notice(t.thanks);
    });
  });

  // The server-rendered list works before the socket connects.
  document.querySelectorAll('#tickets a').forEach(function (a) {
    a.addEventListener('click', function (event) {
      event.preventDefault();
      openTicket(a.parentNode.dataset.ticketId);
    });
  });
})();
