// The console's small helpers; every page works without them (forms post normally).
// Live Markdown preview and the campaign preview are rendered by the server (same
// renderer and sanitiser as saving), so what is shown is what residents will see.
"use strict";

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function csrfOf(form) {
  const field = form.querySelector('input[name="csrf"]');
  return field ? field.value : "";
}

async function postForm(url, data) {
  const resp = await fetch(url, { method: "POST", body: data, credentials: "same-origin" });
  return resp.json();
}

// Policy editor: the textarea being edited is previewed as residents will see it.
function setUpMarkdownPreview(form) {
  const render = debounce(async (area) => {
    const target = document.getElementById(area.dataset.previewTarget);
    const data = new FormData();
    data.append("csrf", csrfOf(form));
    data.append("body", area.value);
    const answer = await postForm(form.dataset.preview, data);
    const titleField = area.closest("fieldset").querySelector('input[name$="title"]');
    const heading = document.createElement("h2");
    heading.textContent = titleField && titleField.value ? titleField.value : "（未填写标题）";
    target.replaceChildren(heading);
    const body = document.createElement("div");
    body.className = "body";
    body.innerHTML = answer.html; // sanitised by the server (nh3)
    target.append(body);
  }, 300);
  form.querySelectorAll("textarea[data-preview-target]").forEach((area) => {
    area.addEventListener("input", () => render(area));
    area.addEventListener("focus", () => render(area));
  });
}

// Campaign composer: live audience count and the message exactly as it will arrive.
function setUpCampaignPreview(form) {
  const screen = document.getElementById("message-preview");
  const count = document.getElementById("live-count");
  const refresh = debounce(async () => {
    const answer = await postForm(form.dataset.preview, new FormData(form));
    if (answer.error) { count.textContent = answer.error; return; }
    count.textContent = `将送达 ${answer.audience_count} 人`;
    const channel = (form.querySelector('input[name="channel"]:checked') || {}).value;
    screen.querySelector('[data-show="template"]').hidden = channel !== "template";
    screen.querySelector('[data-show="plain"]').hidden = channel === "template";
    screen.querySelector('[data-show="plain"]').textContent = answer.plain;
    for (const [key, value] of answer.template) {
      const cell = screen.querySelector(`dd[data-key="${key}"]`);
      if (cell) cell.textContent = value;
    }
    screen.querySelector('[data-key="url"]').textContent = answer.url || "无";
  }, 250);
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  refresh();
  return refresh;
}

// Searchable picker of published policies and interpretations (the public search index).
function setUpPicker(input, onPick) {
  const list = document.getElementById(input.getAttribute("aria-controls"));
  const chosen = document.getElementById("c-link");
  const search = debounce(async () => {
    const q = input.value.trim();
    if (!q) { list.replaceChildren(); return; }
    const resp = await fetch(`${input.dataset.picker}?limit=8&q=${encodeURIComponent(q)}`);
    const answer = await resp.json();
    const items = (answer.results || []).filter((r) => r.kind === "policy" || r.kind === "interpretation");
    list.replaceChildren(...items.map((r) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${r.kind === "policy" ? "政策" : "解读"}：${r.title}`;
      button.addEventListener("click", () => {
        chosen.value = `${r.kind}:${r.id}`;
        list.replaceChildren();
        input.value = r.title;
        onPick();
      });
      li.append(button);
      return li;
    }));
    if (!items.length) {
      const li = document.createElement("li");
      li.textContent = "没有找到已发布的政策或解读";
      list.append(li);
    }
  }, 250);
  input.addEventListener("input", search);
  input.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); search(); } });
}

// A campaign that is sending: poll its counts every two seconds until it is done, then reload.
function setUpProgress(box) {
  const tick = async () => {
    const resp = await fetch(box.dataset.poll, { credentials: "same-origin" });
    if (!resp.ok) return;
    const answer = await resp.json();
    for (const [key, value] of Object.entries(answer.counts)) {
      const cell = box.querySelector(`[data-count="${key}"]`);
      if (cell) cell.textContent = value;
    }
    box.querySelector('[data-count="rate"]').textContent = answer.rate;
    document.getElementById("state").textContent = answer.state_name;
    if (answer.state === "sending" || answer.state === "scheduled" || answer.state === "approved") {
      setTimeout(tick, 2000);
    } else {
      // Finished: show the page of a finished campaign (no 取消推送, the runs' final states).
      window.location.replace(window.location.pathname);
    }
  };
  setTimeout(tick, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const policyForm = document.getElementById("policy-form");
  if (policyForm) setUpMarkdownPreview(policyForm);
  const compose = document.getElementById("compose");
  if (compose) {
    const refresh = setUpCampaignPreview(compose);
    const picker = compose.querySelector("input[data-picker]");
    if (picker) setUpPicker(picker, refresh);
  }
  const progress = document.querySelector("[data-poll]");
  if (progress) setUpProgress(progress);
});
