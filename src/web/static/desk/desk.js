// The desk's live side: new messages and notes of the open ticket appear as they arrive; list
// changes are announced (the page itself works without this script: every action is a form).
(function () {
  'use strict';
  var configNode = document.getElementById('desk-config');
  if (!configNode || typeof io !== 'function') return;
  var config = JSON.parse(configNode.textContent);
  var s = config.strings;
  var live = document.getElementById('desk-live');
  var list = document.getElementById('desk-messages');
  var seen = {};
  if (list) list.querySelectorAll('[data-seq]').forEach(function (li) { seen[li.getAttribute('data-seq')] = true; });

  function fill(text, vars) { return text.replace(/\{(\w+)\}/g, function (_, k) { return vars[k] === undefined ? '' : String(vars[k]); }); }
  function say(text) { if (live) live.textContent = text; }

  function append(m) {
    if (!list || seen[m.seq]) return;
    seen[m.seq] = true;
    var li = document.createElement('li');
    li.className = 'message ' + (m.private ? 'note' : m.authorRole);
    li.setAttribute('data-seq', String(m.seq));
    var who = document.createElement('p');
    who.className = 'who';
    who.textContent = (m.private ? s.note : m.author === config.me ? s.you : m.authorRole) + ' ' + String(m.at).slice(0, 16).replace('T', ' ') + ' UTC';
    var text = document.createElement('p');
    text.className = 'text';
    text.textContent = m.text;
    li.appendChild(who);
    li.appendChild(text);
    list.appendChild(li);
  }

  var socket = io(config.namespace, { transports: ['websocket'] });
  socket.on('connect', function () {
    say(s.live);
    if (config.ticket) {
      socket.emit('ticket:join', { ticketId: config.ticket }, function (ack) {
        if (ack && ack.ok) ack.messages.forEach(append);
      });
    }
  });
  socket.on('disconnect', function () { say(s.offline); });
  socket.on('support:ended', function () { say(s.offline); });
  socket.on('support:presence', function (p) { say(fill(s.online, { n: p.agentsOnline })); });
  socket.on('ticket:message', function (m) { if (m.ticketId === config.ticket) append(m); });
  // a ticket this page shows changed, or (desk:updated, at most twice a second) any ticket's status or assignee
  socket.on('ticket:updated', changed);
  socket.on('desk:updated', changed);
  function changed() {
    // counts and lists are the server's: tell the agent rather than re-render half a page
    var note = document.getElementById('desk-updated');
    if (note) return;
    note = document.createElement('p');
    note.id = 'desk-updated';
    note.setAttribute('role', 'status');
    note.textContent = s.updated + ' ';
    var a = document.createElement('a');
    a.href = location.pathname + location.search;
    a.textContent = s.reload;
    note.appendChild(a);
    var tabs = document.querySelector('.desk-tabs');
    if (tabs) tabs.parentNode.insertBefore(note, tabs.nextSibling);
  }
})();
