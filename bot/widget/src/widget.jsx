// Chuishao's chat widget: @chatui/core over Rasa's socketio channel (bot/channels/socketio.py).
// Embedded by one <script> tag; options come from its data-* attributes (see bot/templates/portal.html).
// The conversation (session id, messages, staff-message cursor) is kept in localStorage, so a reload
// rejoins the same Rasa conversation and shows its history.
import React, { useCallback, useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
// Deep imports: the package index also pulls in components (red packets, ...) whose images sit on a CDN.
import { Chat } from '@chatui/core/es/components/Chat';
import { Bubble } from '@chatui/core/es/components/Bubble';
import { Button } from '@chatui/core/es/components/Button';
import { Card, CardActions, CardText, CardTitle } from '@chatui/core/es/components/Card';
import useMessages from '@chatui/core/es/hooks/useMessages';
import { io } from 'socket.io-client';
import '@chatui/core/dist/index.css';
import './widget.css';

const MAX_STORED = 200;
const STAFF_POLL_MS = 15000;
const TYPING_TIMEOUT_MS = 10000;

const ASPECTS = {
  overview: '办理概况', materials: '申请材料', steps: '办理流程', time_limit: '办理时限', fee: '收费标准',
  location: '办理地点', online: '网上办理', legal_basis: '设定依据', department: '受理部门',
};

function readOptions(script) {
  const data = (script && script.dataset) || {};
  const scriptOrigin = script && script.src ? new URL(script.src, window.location.href).origin : window.location.origin;
  return {
    serverUrl: data.serverUrl || window.location.origin,
    apiUrl: data.apiUrl || scriptOrigin,
    title: data.title || '在线咨询',
    greeting: data.greeting || '您好！我是菏泽市企业服务智能助手，请问您想办理什么事项？',
    launcher: data.launcher || '在线咨询',
    open: data.open === 'true',
    storageKey: data.storageKey || 'chuishao-widget',
  };
}

function loadState(key) {
  try {
    const saved = JSON.parse(window.localStorage.getItem(key) || 'null');
    if (saved && typeof saved === 'object') return saved;
  } catch (e) { /* a damaged entry starts a new conversation */ }
  return {};
}

function saveState(key, state) {
  try {
    window.localStorage.setItem(key, JSON.stringify(state));
  } catch (e) { /* private mode or full storage: the conversation simply is not kept */ }
}

let counter = 0;
const newId = () => `m${Date.now().toString(36)}${(counter += 1)}`;

// One stored message -> one ChatUI message.
function toChatUI(m) {
  const position = m.role === 'user' ? 'right' : 'left';
  return { _id: m.id, type: m.role, content: m, position };
}

function Text({ text }) {
  return <div className="cs-text">{text}</div>;
}

function Buttons({ items, onPick, vertical }) {
  if (!items || !items.length) return null;
  return (
    <div className={vertical ? 'cs-buttons cs-buttons--vertical' : 'cs-buttons'}>
      {items.map((b, i) => (
        <Button key={i} size="sm" className="cs-button" onClick={() => onPick(b)}>{b.title}</Button>
      ))}
    </div>
  );
}

function AnswerCard({ m, onPick }) {
  const p = m.custom.procedure || {};
  return (
    <Card className="cs-card cs-answer" size="xl">
      <CardTitle title={p.name || '办事指南'} subtitle={ASPECTS[m.custom.aspect] || ''} />
      {m.custom.verified === false && <div className="cs-tag">信息待核实，请以窗口最新办事指南为准</div>}
      <CardText><Text text={m.text} /></CardText>
      {m.buttons && m.buttons.length > 0 && (
        <CardActions><Buttons items={m.buttons} onPick={onPick} /></CardActions>
      )}
    </Card>
  );
}

function TicketCard({ m }) {
  const t = m.custom.ticket || {};
  const due = t.due ? new Date(t.due) : null;
  return (
    <Card className="cs-card cs-ticket" size="xl">
      <CardTitle title="已为您提交工单" subtitle={t.department_name || t.department || ''} />
      <CardText>
        <div className="cs-ticket-id">工单号：<strong>{t.id || m.custom.ticket_id || ''}</strong></div>
        {due && !Number.isNaN(due.getTime()) && <div>答复期限：{due.toLocaleDateString('zh-CN')}</div>}
        {m.text && <Text text={m.text} />}
      </CardText>
    </Card>
  );
}

function StaffReply({ m }) {
  const s = (m.custom && m.custom.staff) || {};
  return (
    <Bubble className="cs-staff">
      <div className="cs-staff-who">
        <span className="cs-staff-name">{s.name || '工作人员'}</span>
        {(s.department_name || s.department) && <span className="cs-staff-dept">{s.department_name || s.department}</span>}
        {s.number && <span className="cs-staff-number">工号 {s.number}</span>}
      </div>
      <Text text={m.text} />
    </Bubble>
  );
}

function BotMessage({ m, onPick }) {
  const kind = m.custom && m.custom.type;
  if (kind === 'procedure_answer') return <AnswerCard m={m} onPick={onPick} />;
  if (kind === 'handoff_ticket') return <TicketCard m={m} />;
  if (kind === 'staff_reply') return <StaffReply m={m} />;
  if (!m.text && !(m.buttons && m.buttons.length)) return null;
  return (
    <Bubble className={kind ? `cs-bot cs-${kind}` : 'cs-bot'}>
      {m.text && <Text text={m.text} />}
      <Buttons items={m.buttons} onPick={onPick} vertical={kind === 'clarify'} />
    </Bubble>
  );
}

// A `bot_uttered` event (text, quick_replies, custom) as a stored message.
function fromBotUttered(data) {
  const custom = data && typeof data.custom === 'object' ? data.custom : null;
  return {
    id: newId(),
    role: custom && custom.type === 'staff_reply' ? 'staff' : 'bot',
    text: typeof data.text === 'string' ? data.text : '',
    buttons: (data.quick_replies || data.buttons || []).map((b) => ({ title: b.title, payload: b.payload })),
    custom,
    at: Date.now(),
  };
}

function Widget({ options }) {
  const saved = useRef(loadState(options.storageKey)).current;
  const state = useRef({
    sessionId: saved.sessionId || null,
    history: Array.isArray(saved.history) ? saved.history : [],
    cursor: saved.cursor || 0,
    staffSeen: saved.staffSeen || [],
    open: options.open || !!saved.open,
  }).current;
  if (state.history.length === 0) {
    // The greeting is the widget's own: it is not sent to Rasa.
    state.history.push({ id: newId(), role: 'bot', text: options.greeting, buttons: [], custom: null, at: Date.now() });
  }
  const [open, setOpen] = useState(state.open);
  const [typing, setTyping] = useState(false);
  const [online, setOnline] = useState(false);
  const { messages, appendMsg } = useMessages(state.history.map(toChatUI));
  const socketRef = useRef(null);
  const pending = useRef([]);
  const typingTimer = useRef(null);

  const persist = useCallback(() => {
    saveState(options.storageKey, {
      sessionId: state.sessionId,
      history: state.history.slice(-MAX_STORED),
      cursor: state.cursor,
      staffSeen: state.staffSeen.slice(-MAX_STORED),
      open: state.open,
    });
  }, []);

  const add = useCallback((m) => {
    if (m.role === 'staff' && m.custom && m.custom.message_id != null) {
      if (state.staffSeen.includes(m.custom.message_id)) return;
      state.staffSeen.push(m.custom.message_id);
    }
    state.history.push(m);
    appendMsg(toChatUI(m));
    persist();
  }, [appendMsg, persist]);

  const emitUser = useCallback((text) => {
    const socket = socketRef.current;
    const payload = {
      message: text,
      session_id: state.sessionId,
      customData: { page: window.location.href, title: document.title, channel_page: 'portal' },
    };
    if (socket && socket.connected && state.sessionId) socket.emit('user_uttered', payload);
    else pending.current.push(text);
  }, []);

  // Staff replies written while the widget was closed (or without Redis): the web app's messages API.
  const catchUp = useCallback(async () => {
    if (!state.sessionId) return;
    try {
      const url = `${options.apiUrl}/api/conversations/${encodeURIComponent(state.sessionId)}/messages?after=${state.cursor}`;
      const answer = await fetch(url, { credentials: 'omit' });
      if (!answer.ok) return;
      const body = await answer.json();
      (body.messages || []).forEach((msg) => {
        if (msg.direction !== 'out' || !msg.text) return;
        add({
          id: newId(), role: 'staff', text: msg.text, buttons: [], at: Date.now(),
          custom: { type: 'staff_reply', ticket: msg.ticket, message_id: msg.id, staff: msg.staff || {} },
        });
      });
      if (typeof body.cursor === 'number' && body.cursor > state.cursor) {
        state.cursor = body.cursor;
        persist();
      }
    } catch (e) { /* offline or no handoff service: the socket still delivers */ }
  }, [add, persist]);

  useEffect(() => {
    const socket = io(options.serverUrl, { path: '/socket.io', transports: ['websocket'] });
    socketRef.current = socket;
    socket.on('connect', () => socket.emit('session_request', { session_id: state.sessionId }));
    socket.on('session_confirm', (confirmed) => {
      const id = typeof confirmed === 'string' ? confirmed : confirmed && confirmed.session_id;
      if (id) state.sessionId = id;
      setOnline(true);
      persist();
      pending.current.splice(0).forEach((text) => emitUser(text));
      catchUp();
    });
    socket.on('disconnect', () => setOnline(false));
    socket.on('bot_uttered', (data) => {
      const m = fromBotUttered(data || {});
      if (!m.text && !m.buttons.length && !m.custom) return;
      setTyping(false);
      add(m);
    });
    const poll = window.setInterval(() => {
      if (state.history.some((m) => m.custom && ['handoff_ticket', 'staff_reply'].includes(m.custom.type))) catchUp();
    }, STAFF_POLL_MS);
    return () => { window.clearInterval(poll); socket.close(); };
  }, []);

  const send = useCallback((text, shown) => {
    const clean = (text || '').trim();
    if (!clean) return;
    add({ id: newId(), role: 'user', text: shown || clean, buttons: [], custom: null, at: Date.now() });
    setTyping(true);
    window.clearTimeout(typingTimer.current);
    typingTimer.current = window.setTimeout(() => setTyping(false), TYPING_TIMEOUT_MS);
    emitUser(clean);
  }, [add, emitUser]);

  const onPick = useCallback((button) => send(button.payload || button.title, button.title), [send]);

  const toggle = (value) => { state.open = value; setOpen(value); persist(); };

  const renderMessageContent = (msg) => {
    const m = msg.content;
    if (m.role === 'user') return <Bubble className="cs-user"><Text text={m.text} /></Bubble>;
    return <BotMessage m={m} onPick={onPick} />;
  };

  return (
    <div className="cs-root">
      {open && (
        <div className="cs-panel" role="dialog" aria-label={options.title}>
          <Chat
            locale="zh-CN"
            renderNavbar={() => (
              <div className="cs-header">
                <span className="cs-title">{options.title}</span>
                <span className={online ? 'cs-status cs-status--online' : 'cs-status'}>{online ? '在线' : '连接中…'}</span>
                <button type="button" className="cs-close" aria-label="关闭" onClick={() => toggle(false)}>×</button>
              </div>
            )}
            messages={messages}
            renderMessageContent={renderMessageContent}
            isTyping={typing}
            placeholder="请输入您的问题，例如：食品经营许可证怎么办？"
            onSend={(type, value) => { if (type === 'text') send(value); }}
          />
        </div>
      )}
      {!open && (
        <button type="button" className="cs-launcher" onClick={() => toggle(true)}>{options.launcher}</button>
      )}
    </div>
  );
}

// The stylesheet sits beside the script (chuishao-widget.css), so the page needs one tag only.
function addStylesheet(script) {
  if (!script || !script.src || document.querySelector('link[data-chuishao-widget]')) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = script.src.replace(/\.js(\?|$)/, '.css$1');
  link.setAttribute('data-chuishao-widget', '');
  document.head.appendChild(link);
}

function mount(script) {
  const options = readOptions(script);
  addStylesheet(script);
  const host = document.createElement('div');
  host.id = 'chuishao-widget';
  document.body.appendChild(host);
  createRoot(host).render(<Widget options={options} />);
}

const current = document.currentScript;
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => mount(current));
else mount(current);
