// The demand workshop's desk: one contact at a time, decided with the keys or the buttons.
//
// Every message to the kernel carries the id of the contact this browser shows and what is typed in the boxes at
// that moment, so a decision is always on the contact the person saw and no keystroke is lost to a late update.
// After a key press the desk ignores further presses until the kernel has drawn the next contact (or said why not):
// a quick second press never lands on a contact nobody has seen. Focus goes to the contact after each draw.
// Keys (outside a text box): V value, F failure then 1-9 what failed, S skip, U undo, Escape closes "What failed?".

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

function typing(el) {
  return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
}

let counter = 0;

function render({ model, el }) {
  const uid = `coach-desk-${++counter}`;
  el.classList.add("coach-desk");

  // --- joining: a name or initials
  const nameInput = h("input", { id: `${uid}-name`, class: "coach-person-input", autocomplete: "off", maxlength: "60" });
  const start = h("button", { type: "submit", class: "coach-start" }, "Start classifying");
  const join = h(
    "form",
    { class: "coach-join-form" },
    h("label", { for: `${uid}-name` }, "Your name or initials"),
    nameInput,
    start,
  );

  // --- the contact
  const verbatim = h("div", { class: "coach-verbatim-text" });
  const meta = h("small", { class: "coach-meta" });
  const note = h("p", { class: "coach-back-note" });
  const card = h(
    "div",
    { class: "coach-verbatim", tabindex: "-1", role: "region", "aria-label": "The contact to classify" },
    note,
    verbatim,
    meta,
  );
  const demandType = h("input", { id: `${uid}-type`, class: "coach-demand-type", autocomplete: "off" });
  const whatMatters = h("input", { id: `${uid}-matters`, class: "coach-what-matters", autocomplete: "off" });
  const fields = h(
    "div",
    { class: "coach-fields" },
    h("label", { for: `${uid}-type` }, "Demand type"),
    demandType,
    h("label", { for: `${uid}-matters` }, "What matters"),
    whatMatters,
  );
  const btn = (text, cls, key) =>
    h("button", { type: "button", class: `coach-desk-button ${cls}`, "aria-keyshortcuts": key }, `${text} [${key}]`);
  const value = btn("Value", "coach-value", "V");
  const failure = btn("Failure", "coach-failure", "F");
  const skip = btn("Skip", "coach-skip", "S");
  const undo = btn("Undo", "coach-undo", "U");
  const buttons = h("div", { class: "coach-decide", role: "group", "aria-label": "Decide" }, value, failure, skip, undo);
  const typeButtons = (model.get("failure_types") || []).map((ft, i) =>
    h("button", { type: "button", class: "coach-desk-button coach-type", "data-type": ft, "aria-keyshortcuts": String(i + 1) }, `${ft} [${i + 1}]`),
  );
  const typeRow = h(
    "div",
    { class: "coach-decide coach-types", role: "group", "aria-labelledby": `${uid}-what-failed`, hidden: "" },
    h("b", { id: `${uid}-what-failed` }, "What failed?"),
    ...typeButtons,
  );
  const desk = h("div", { class: "coach-desk-contact", hidden: "" }, card, fields, buttons, typeRow);
  const end = h("div", { class: "coach-end", role: "status", tabindex: "-1" });
  const said = h("div", { class: "coach-said" });
  el.append(join, desk, end, said);

  let pending = false;
  let shownDrawn = -1;

  function setPending(on) {
    pending = on;
    el.classList.toggle("coach-waiting", on);
    desk.setAttribute("aria-busy", on ? "true" : "false");
  }

  function send(msg) {
    const c = model.get("contact") || {};
    model.send({ ...msg, contact: c.id || null, drawn: model.get("drawn"), demand_type: demandType.value, what_matters: whatMatters.value });
  }

  function act(msg) {
    if (pending) return; // the next contact is not drawn yet: this press would land on a contact nobody has seen
    const c = model.get("contact") || {};
    if (msg.do !== "undo" && !c.id) return;
    setPending(true);
    send(msg);
  }

  function showTypes(on) {
    if (on) typeRow.removeAttribute("hidden");
    else typeRow.setAttribute("hidden", "");
    failure.setAttribute("aria-expanded", on ? "true" : "false");
    if (on && typeButtons.length) typeButtons[0].focus();
  }

  function draw() {
    const view = model.get("view");
    const c = model.get("contact") || {};
    join.hidden = view !== "join";
    desk.hidden = view !== "contact";
    end.hidden = view !== "done" && view !== "wait";
    end.textContent = model.get("end") || "";
    if (view === "contact") {
      verbatim.textContent = c.verbatim ? `\u201c${c.verbatim}\u201d` : "(no verbatim recorded)";
      meta.textContent = c.meta || "";
      note.textContent = c.note || "";
      note.hidden = !c.note;
      card.dataset.contact = c.id || "";
      if (model.get("drawn") !== shownDrawn) {
        demandType.value = c.demand_type || "";
        whatMatters.value = "";
      }
    }
    showTypes(false);
    shownDrawn = model.get("drawn");
  }

  function onDrawn() {
    draw();
    setPending(false);
    const view = model.get("view");
    if (view === "contact") card.focus();
    else if (view === "join") nameInput.focus();
    else end.focus();
  }

  function onSaid() {
    const s = model.get("said") || {};
    said.replaceChildren();
    if (!s.text) return;
    said.append(h("p", { role: s.kind === "ok" ? "status" : "alert", class: `coach-said-${s.kind}` }, s.text));
    if (s.kind !== "ok") setPending(false); // refused: the person may act again on what they see
  }

  join.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (pending) return;
    setPending(true);
    send({ do: "start", person: nameInput.value });
  });
  value.addEventListener("click", () => act({ do: "decide", classification: "value" }));
  failure.addEventListener("click", () => {
    if (!pending && (model.get("contact") || {}).id) showTypes(true);
  });
  typeButtons.forEach((b) => b.addEventListener("click", () => act({ do: "decide", classification: "failure", failure_type: b.dataset.type })));
  skip.addEventListener("click", () => act({ do: "skip" }));
  undo.addEventListener("click", () => act({ do: "undo" }));

  function onKey(ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || typing(ev.target) || !el.isConnected) return;
    const k = ev.key.toLowerCase();
    const view = model.get("view");
    if (view === "join" || (view !== "contact" && k !== "u")) return; // undo works on the end screen too
    let handled = true;
    if (k === "v") act({ do: "decide", classification: "value" });
    else if (k === "f") failure.click();
    else if (/^[1-9]$/.test(k) && !typeRow.hidden && typeButtons[Number(k) - 1]) typeButtons[Number(k) - 1].click();
    else if (k === "s") act({ do: "skip" });
    else if (k === "u") act({ do: "undo" });
    else if (k === "escape" && !typeRow.hidden) {
      showTypes(false);
      card.focus();
    } else handled = false;
    if (handled) ev.preventDefault();
  }
  document.addEventListener("keydown", onKey);

  // keep the lease while the contact is on screen (a room may discuss one contact for minutes)
  const keep = setInterval(() => {
    if (model.get("view") === "contact" && !pending && el.isConnected) model.send({ do: "keep", contact: (model.get("contact") || {}).id });
  }, 30000);

  // drawn only when the kernel bumps ``drawn`` (after the contact and the view): the desk never shows a contact
  // before it takes key presses for it
  model.on("change:drawn", onDrawn);
  model.on("change:said", onSaid);
  draw();
  onSaid();
  return () => {
    document.removeEventListener("keydown", onKey);
    clearInterval(keep);
  };
}

export default { render };
