// The page: images in (drop, choose, paste), one API request per image, results shown as cards.
// Everything the user or the server supplies is put on the page with textContent, never as HTML.
"use strict";

(function () {
  const PARALLEL_REQUESTS = 2;
  const LOW = 0.5;   // character confidence below this: strongly shaded
  const MID = 0.8;   // below this: lightly shaded
  const READABLE_HEIGHT = 64;  // px: a line image is never shrunk below this to fit the card
  const SVG = "http://www.w3.org/2000/svg";

  const body = document.body;
  const recognizeUrl = body.dataset.recognizeUrl;
  const maxUploadBytes = Number(body.dataset.maxUploadBytes);
  const FORM_OVERHEAD_BYTES = 4096;

  const $ = (id) => document.getElementById(id);
  const drop = $("drop");
  const fileInput = $("files");
  const results = $("results");
  const template = $("card-template");
  const options = $("options");
  const toolbar = $("toolbar");
  const progress = $("progress");
  const layoutChoice = $("layout");

  const items = [];       // {file, url, card, result, error, generation}, in page order
  const queue = [];       // items waiting for a request
  let running = 0;
  let pastedCount = 0;

  function percent(value) {
    return Math.round(value * 100) + " %";
  }

  function megabytes(bytes) {
    return (bytes / 1e6).toLocaleString(undefined, { maximumFractionDigits: 1 }) + " MB";
  }

  function readingOptions() {
    const form = new FormData(options);
    return { decoder: form.get("decoder"), layout: form.get("layout"), spell: form.get("spell") ? "true" : "false" };
  }

  // ---- adding images -------------------------------------------------------------------------

  function addFiles(files) {
    for (const file of files) {
      const card = template.content.firstElementChild.cloneNode(true);
      const item = { file, url: URL.createObjectURL(file), card, result: null, error: null, generation: 0 };
      const image = card.querySelector("img");
      image.addEventListener("load", () => keepReadable(image));
      image.src = item.url;
      image.alt = "Image " + file.name;
      card.querySelector(".name").textContent = file.name;
      card.querySelector(".copy").addEventListener("click", (event) => copyText(item.result ? item.result.text : "", event.currentTarget));
      card.querySelector(".remove").addEventListener("click", () => removeItem(item));
      linkOutlines(card);
      items.push(item);
      results.append(card);
      enqueue(item);
    }
    toolbar.hidden = items.length === 0;
  }

  // A line image is shown at its natural size, shrunk to the card's width only as far as
  // READABLE_HEIGHT allows: a longer line keeps that height and scrolls sideways (app.css).
  function keepReadable(image) {
    const height = Math.min(image.naturalHeight, READABLE_HEIGHT);
    image.style.setProperty("--readable-width", (image.naturalWidth * height) / image.naturalHeight + "px");
  }

  function removeItem(item) {
    const index = items.indexOf(item);
    if (index >= 0) items.splice(index, 1);
    const queued = queue.indexOf(item);
    if (queued >= 0) queue.splice(queued, 1);
    URL.revokeObjectURL(item.url);
    item.card.remove();
    item.removed = true;
    toolbar.hidden = items.length === 0;
    updateProgress();
  }

  // ---- reading -------------------------------------------------------------------------------

  // A new generation makes the answer of a request still in flight for the old options stale.
  function enqueue(item) {
    item.generation += 1;
    item.result = null;
    item.error = null;
    item.card.dataset.layout = readingOptions().layout;  // app.css shows a line or a page by it
    setState(item, "waiting", "Waiting…");
    if (!queue.includes(item)) queue.push(item);
    pump();
  }

  function pump() {
    while (running < PARALLEL_REQUESTS && queue.length > 0) {
      const item = queue.shift();
      running += 1;
      read(item).finally(() => {
        running -= 1;
        pump();
      });
    }
    updateProgress();
  }

  async function read(item) {
    const generation = item.generation;
    const stale = () => item.removed || item.generation !== generation;
    // the limit is the whole request's: the multipart headers and the option fields take a few hundred bytes
    if (item.file.size > maxUploadBytes - FORM_OVERHEAD_BYTES) {
      fail(item, item.file.name + " is " + megabytes(item.file.size) + ", over the " + megabytes(maxUploadBytes) + " limit");
      return;
    }
    setState(item, "busy", "Reading…");
    const form = new FormData();
    form.append("image", item.file, item.file.name);
    const chosen = readingOptions();
    for (const name in chosen) form.append(name, chosen[name]);
    try {
      const response = await fetch(recognizeUrl, { method: "POST", body: form });
      const answer = await response.json().catch(() => null);
      if (stale()) return;
      if (!response.ok || !answer || !answer.images) {
        const reason = answer && answer.error ? answer.error : "the server answered " + response.status + " " + response.statusText;
        fail(item, reason);
        return;
      }
      item.result = answer.images[0];
      item.options = answer.options;
      item.timing = answer.timing;
      showResult(item);
    } catch (error) {
      if (!stale()) fail(item, "could not reach the server (" + error.message + ")");
    }
  }

  function setState(item, state, message) {
    item.card.dataset.state = state;
    item.card.setAttribute("aria-busy", state === "busy" || state === "waiting" ? "true" : "false");
    item.card.querySelector(".status-text").textContent = message;
    if (state !== "done") {
      item.card.querySelector(".text").replaceChildren();
      item.card.querySelector(".outlines").replaceChildren();
      item.card.querySelector(".confidence").textContent = "";
      item.card.querySelector(".alternatives").hidden = true;
    }
  }

  function fail(item, message) {
    item.error = message;
    setState(item, "failed", message);
    updateProgress();
  }

  function showResult(item) {
    const result = item.result;
    const card = item.card;
    setState(item, "done", result.text ? "Read in " + Math.round(item.timing.total_ms) + " ms" : "No text found");
    card.querySelector(".text").replaceChildren(...result.lines.map(lineText));
    drawOutlines(card, result);
    const confidence = card.querySelector(".confidence");
    confidence.textContent = result.text ? percent(result.confidence) : "";
    confidence.className = "confidence " + band(result.confidence);
    confidence.title = "Mean character confidence";
    // other readings of a whole page would be the first line's only: offered for one line
    const alternatives = result.lines.length === 1 ? result.lines[0].alternatives : [];
    const details = card.querySelector(".alternatives");
    const list = details.querySelector("ol");
    list.replaceChildren();
    for (const alternative of alternatives.slice(1)) {
      const entry = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = alternative.text;
      const share = document.createElement("span");
      share.className = "share";
      share.textContent = percent(alternative.probability);
      entry.append(text, share);
      list.append(entry);
    }
    details.hidden = list.childElementCount === 0;
    updateProgress();
  }

  function band(confidence) {
    return confidence < LOW ? "low" : confidence < MID ? "mid" : "high";
  }

  // One paragraph per line. A line found on a page (it has a polygon) can take the focus,
  // so that the keyboard too can mark its outline.
  function lineText(line, index) {
    const paragraph = document.createElement("p");
    paragraph.className = "line";
    paragraph.dir = "auto";
    paragraph.append(...shadedText(line));
    if (line.polygon) {
      paragraph.dataset.line = index;
      paragraph.tabIndex = 0;
    }
    return paragraph;
  }

  // Runs of characters in the same confidence band become one node; unsure runs are shaded
  // spans whose title gives each character's confidence.
  function shadedText(line) {
    const nodes = [];
    const chars = Array.from(line.text);
    const confidences = line.char_confidences.length === chars.length ? line.char_confidences : chars.map(() => 1);
    let start = 0;
    while (start < chars.length) {
      const kind = chars[start].trim() ? band(confidences[start]) : "high";
      let end = start + 1;
      while (end < chars.length && (chars[end].trim() ? band(confidences[end]) : "high") === kind) end += 1;
      const run = chars.slice(start, end).join("");
      if (kind === "high") {
        nodes.push(document.createTextNode(run));
      } else {
        const span = document.createElement("span");
        span.className = "unsure " + kind;
        span.textContent = run;
        span.title = chars.slice(start, end).map((char, i) => char + " " + percent(confidences[start + i])).join(", ");
        nodes.push(span);
      }
      start = end;
    }
    return nodes;
  }

  // ---- outlines of the lines found on a page -----------------------------------------------

  // The SVG's viewBox is the page in the server's pixels, so the outlines scale with the image.
  function drawOutlines(card, result) {
    const svg = card.querySelector(".outlines");
    svg.setAttribute("viewBox", "0 0 " + result.width + " " + result.height);
    svg.replaceChildren(...result.lines.flatMap((line, index) => {
      if (!line.polygon) return [];
      const outline = document.createElementNS(SVG, "polygon");
      outline.setAttribute("points", line.polygon.map((point) => point.join(",")).join(" "));
      outline.dataset.line = index;
      return [outline];
    }));
  }

  // A line's text and outline share a data-line number. Hovering either marks both ("hovered"),
  // as does the text's focus ("focused": a click or Tab); clicking an outline focuses its text.
  function linkOutlines(card) {
    const lineOf = (element) => element.closest("[data-line]")?.dataset.line;
    const mark = (className, line) => {
      for (const element of card.querySelectorAll("[data-line]")) {
        element.classList.toggle(className, element.dataset.line === line);
      }
    };
    card.addEventListener("mouseover", (event) => mark("hovered", lineOf(event.target)));
    card.addEventListener("mouseleave", () => mark("hovered", undefined));
    card.addEventListener("focusin", (event) => mark("focused", lineOf(event.target)));
    card.addEventListener("focusout", () => mark("focused", undefined));
    card.querySelector(".outlines").addEventListener("click", (event) => {
      const line = lineOf(event.target);
      if (line !== undefined) card.querySelector(`.line[data-line="${line}"]`).focus();
    });
  }

  function updateProgress() {
    const total = items.length;
    const finished = items.filter((item) => item.result || item.error).length;
    const pending = total - finished;
    progress.hidden = pending === 0;
    $("progress-fill").style.width = total ? (100 * finished) / total + "%" : "0";
    $("progress-text").textContent = pending ? "Reading " + Math.min(finished + 1, total) + " of " + total + "…" : "";
    body.classList.toggle("working", pending > 0);
  }

  // ---- copy and download ---------------------------------------------------------------------

  function allText() {
    return items.filter((item) => item.result).map((item) => item.result.text).join("\n");
  }

  // The Clipboard API needs a secure context: served to a phone over plain http on the local
  // network, the page copies through a selected, hidden text area instead.
  async function copyText(text, button) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
      } else if (!copyBySelection(text)) {
        throw new Error("copy refused");
      }
      flash(button, "Copied");
    } catch (error) {
      flash(button, "Copy failed");
    }
  }

  function copyBySelection(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.readOnly = true;
    area.className = "visually-hidden";
    document.body.append(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    return copied;
  }

  function flash(button, message) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = message;
    setTimeout(() => { button.textContent = label; }, 1500);
  }

  function download(name, type, content) {
    const url = URL.createObjectURL(new Blob([content], { type }));
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }

  $("copy-all").addEventListener("click", (event) => copyText(allText(), event.currentTarget));
  $("download-txt").addEventListener("click", () => download("linescribe.txt", "text/plain;charset=utf-8", allText() + "\n"));
  $("download-json").addEventListener("click", () => {
    const records = items.map((item) => (item.result
      ? { ...item.result, options: item.options }
      : { name: item.file.name, error: item.error || "not read yet" }));
    download("linescribe.json", "application/json", JSON.stringify(records, null, 2) + "\n");
  });
  $("clear").addEventListener("click", () => items.slice().forEach(removeItem));

  // ---- inputs: choose, drop, paste; options ----------------------------------------------------

  fileInput.addEventListener("change", () => {
    addFiles(Array.from(fileInput.files));
    fileInput.value = "";
  });

  // Dropping a file anywhere must not make the browser navigate away to it.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => event.preventDefault());
  }
  let dragDepth = 0;
  drop.addEventListener("dragenter", () => { dragDepth += 1; drop.classList.add("dragging"); });
  drop.addEventListener("dragleave", () => { dragDepth -= 1; if (dragDepth <= 0) drop.classList.remove("dragging"); });
  drop.addEventListener("drop", (event) => {
    dragDepth = 0;
    drop.classList.remove("dragging");
    addFiles(Array.from(event.dataTransfer.files));
  });

  document.addEventListener("paste", (event) => {
    const files = Array.from(event.clipboardData.items)
      .filter((entry) => entry.kind === "file" && entry.type.startsWith("image/"))
      .map((entry) => entry.getAsFile())
      .map((file) => new File([file], "pasted image " + ++pastedCount + "." + (file.type.split("/")[1] || "png"), { type: file.type }));
    if (files.length) {
      event.preventDefault();
      addFiles(files);
    }
  });

  // The drop zone names what the chosen layout expects; also on load, where the browser may
  // have restored an earlier choice.
  function showLayout() {
    $("drop-title").textContent = layoutChoice.selectedOptions[0].dataset.dropTitle;
  }
  showLayout();

  // New options: read every image again with them.
  options.addEventListener("change", () => {
    showLayout();
    items.forEach(enqueue);
  });
  options.addEventListener("submit", (event) => event.preventDefault());
})();
