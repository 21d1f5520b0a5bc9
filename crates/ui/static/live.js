// masksearch UI, live agent page: runs one agent over server-sent events (/agent/stream) and
// shows each step as it arrives. Model and document text only ever goes in through textContent.
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("agent-form");
  if (!form) return;
  const log = $("live-log");
  const status = $("status");
  let source = null; // the EventSource of the run in progress
  let record = null; // the finished trajectory
  let failure = null; // the reason a model call or search failed
  let picked = null; // the RAMP sample last put in the question: { file, line, query }

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  function setStatus(text) {
    status.textContent = text;
    status.dataset.state = text.split(":")[0];
  }

  // Closes the stream (the server then stops the agent) and sets the buttons for a new run.
  function end(text) {
    if (source) {
      source.close();
      source = null;
    }
    $("start").disabled = false;
    $("stop").disabled = true;
    if (text) setStatus(text);
  }

  function meta(step) {
    const bits = [`${step.ms} ms`];
    if (step.completion_tokens) bits.push(`${step.prompt_tokens} + ${step.completion_tokens} tokens`);
    if (step.notes && step.notes.length) bits.push(`notes: ${step.notes.join(", ")}`);
    return el("span", "meta", bits.join(" · "));
  }

  function showStep(s) {
    const div = el("div", `step ${s.kind}`);
    div.append(el("span", "kind", s.kind), meta(s.step));
    if (s.kind === "search") {
      const queries = el("ul", "queries");
      (s.step.queries || []).forEach((q) => queries.append(el("li", null, q)));
      div.append(queries);
      if (!s.docs.length) div.append(el("p", "muted", "no documents"));
      s.docs.forEach((d) => {
        const details = el("details", "doc");
        const summary = el("summary", null, `Doc ${d.n}: `);
        summary.append(el("strong", null, d.title));
        if (d.id) summary.append(" ", el("span", "mono muted", d.id));
        details.append(summary, el("p", null, d.text));
        div.append(details);
      });
    } else {
      s.parts.forEach((p) => {
        const part = el("div", `part ${p.tag}`);
        if (p.tag !== "text") part.append(el("span", "tag", p.tag));
        part.append(el("pre", null, p.text));
        div.append(part);
      });
    }
    log.append(div);
  }

  function start() {
    const question = $("question").value.trim();
    if (!question) {
      setStatus("failed: type a question or pick a sample");
      return;
    }
    end();
    log.replaceChildren();
    record = null;
    failure = null;
    $("save").disabled = true;
    const params = new URLSearchParams({
      question,
      model: $("model").value,
      search: $("search").value,
      turns: $("turns").value,
      topk: $("topk").value,
      prompt: $("prompt").value,
    });
    // The record of a RAMP sample, asked unchanged, carries its masks and scores.
    if (picked && picked.query.trim() === question) {
      params.set("sample_file", picked.file);
      params.set("sample_line", picked.line);
    }
    const es = new EventSource(`/agent/stream?${params}`);
    source = es;
    $("start").disabled = true;
    $("stop").disabled = false;
    setStatus("running");
    es.addEventListener("step", (e) => showStep(JSON.parse(e.data)));
    // The server's "error" event carries the reason (the record follows); a plain error
    // event is the connection's: refused (a bad request) or broken. Never reconnect: that
    // would start the agent again.
    es.addEventListener("error", (e) => {
      if (source !== es) return;
      if (typeof e.data === "string") {
        failure = JSON.parse(e.data);
        setStatus(`failed: ${failure}`);
      } else {
        end("failed: the server refused the run or the connection broke");
      }
    });
    es.addEventListener("done", (e) => {
      if (source !== es) return;
      record = JSON.parse(e.data);
      $("save").disabled = false;
      end(failure === null ? "finished" : null);
    });
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    start();
  });
  $("stop").addEventListener("click", () => {
    if (source) end("stopped");
  });
  $("save").addEventListener("click", () => {
    if (!record) return;
    // One line: the file is a JSON record and a one-record JSONL file at once.
    const blob = new Blob([`${JSON.stringify(record)}\n`], { type: "application/json" });
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = `trajectory-${record.id}.json`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  });

  // RAMP samples are named by (file, line): the page never sends a path.
  const file = $("ramp-file");
  const line = $("ramp-line");
  if (!file) return;
  const note = $("ramp-note");
  const bound = () => {
    const lines = Number(file.selectedOptions[0].dataset.lines);
    line.max = String(Math.max(lines - 1, 0));
  };
  async function pick() {
    const at = { file: file.value, line: line.value };
    const response = await fetch(`/agent/sample?${new URLSearchParams(at)}`);
    if (!response.ok) {
      note.textContent = `no sample there (${response.status})`;
      return;
    }
    const sample = await response.json();
    $("question").value = sample.query;
    picked = { ...at, query: sample.query };
    note.textContent = [sample.title, sample.id].filter(Boolean).join(" · ");
  }
  bound();
  file.addEventListener("change", () => {
    bound();
    pick();
  });
  line.addEventListener("change", pick);
  $("ramp-pick").addEventListener("click", pick);
})();
