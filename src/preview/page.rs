//! The preview page: one HTML file, no network, no external files. The
//! thumbnails travel inside it (base64 JPEG in a JSON block); a small script
//! shows them a page at a time, grouped by date, and loads each image only
//! as it scrolls into view, so 10,000 pictures stay usable.
//!
//! Every picture not yet backed up starts ticked. Unticking one means "not
//! this one, ever": the saved selection file lists the ticked pictures as
//! `chosen` and the unticked ones as `rejected`; `mtpull backup DEST
//! --selection FILE` copies exactly the chosen and remembers the rejected in
//! DEST's manifest.

use std::io::{self, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::Item;
use crate::pull::MediaKind;
use crate::pull::choice::SELECTION_FORMAT;

/// Writes the page for `items` (from the device `serial`, named `device`).
pub fn render(out: &mut dyn Write, device: &str, serial: &str, items: &[Item]) -> io::Result<()> {
    let data: Vec<serde_json::Value> = items.iter().map(item_json).collect();
    let meta = json!({
        "device": device,
        "serial": serial,
        "format": SELECTION_FORMAT,
        "made": chrono::Local::now().format("%Y-%m-%d %H:%M").to_string(),
    });
    out.write_all(HEAD.as_bytes())?;
    writeln!(out, "<title>{} — mtpull preview</title>", escape_html(device))?;
    out.write_all(STYLE.as_bytes())?;
    out.write_all(BODY.as_bytes())?;
    out.write_all(b"<script type=\"application/json\" id=\"meta\">")?;
    out.write_all(script_safe(&meta.to_string()).as_bytes())?;
    out.write_all(b"</script>\n<script type=\"application/json\" id=\"items\">[")?;
    for (i, value) in data.iter().enumerate() {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        out.write_all(script_safe(&value.to_string()).as_bytes())?;
    }
    out.write_all(b"]</script>\n<script>")?;
    out.write_all(SCRIPT.as_bytes())?;
    out.write_all(b"</script>\n</body>\n</html>\n")
}

fn item_json(item: &Item) -> serde_json::Value {
    let file = &item.file;
    let date = item
        .date
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default();
    let thumb = item
        .thumbnail
        .jpeg
        .as_ref()
        .map(|jpeg| format!("data:image/jpeg;base64,{}", STANDARD.encode(jpeg)))
        .unwrap_or_default();
    json!({
        "storage": file.storage,
        "path": file.path,
        "name": file.name(),
        "size": file.size,
        "date": date,
        "kind": if item.kind == MediaKind::Video { "video" } else { "photo" },
        "thumb": thumb,
        "thumb_source": item.thumbnail.source.as_str(),
        "backed_up": item.backed_up,
    })
}

/// JSON inside a script element must not contain `</` (it would end the element).
fn script_safe(json: &str) -> String {
    json.replace("</", "<\\/")
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const HEAD: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";

const STYLE: &str = r#"<style>
body { font: 14px system-ui, sans-serif; margin: 0; background: #f4f4f2; color: #222; }
header { position: sticky; top: 0; z-index: 2; background: #263238; color: #fff; padding: 10px 16px;
  display: flex; flex-wrap: wrap; gap: 12px; align-items: center; }
header h1 { font-size: 16px; margin: 0 12px 0 0; }
header button { font: inherit; padding: 4px 10px; border-radius: 4px; border: 0; cursor: pointer; }
#save { background: #43a047; color: #fff; font-weight: 600; }
#status { margin-left: auto; }
main { padding: 8px 16px 40px; }
h2 { font-size: 15px; margin: 18px 0 8px; display: flex; gap: 10px; align-items: baseline; }
h2 button { font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 10px; }
.card { background: #fff; border-radius: 6px; padding: 6px; box-shadow: 0 1px 2px #0002; position: relative;
  display: block; cursor: pointer; }
.card.rejected { opacity: .45; }
.card.done { cursor: default; }
.card input { position: absolute; top: 10px; left: 10px; width: 20px; height: 20px; }
.thumb { width: 100%; aspect-ratio: 4 / 3; object-fit: cover; background: #cfd8dc; border-radius: 4px; display: block; }
.placeholder { display: flex; align-items: center; justify-content: center; color: #607d8b; font-weight: 600; }
.meta { font-size: 12px; line-height: 1.35; margin-top: 4px; word-break: break-all; }
.meta .name { font-weight: 600; }
.meta .path { color: #78909c; }
.badge { position: absolute; top: 10px; right: 10px; background: #1e88e5; color: #fff; font-size: 11px;
  padding: 2px 6px; border-radius: 3px; }
.badge.video { top: auto; bottom: 62px; background: #000a; }
nav { display: flex; gap: 8px; align-items: center; justify-content: center; margin: 16px 0; }
</style>
</head>
"#;

const BODY: &str = r#"<body>
<header>
<h1 id="title">mtpull preview</h1>
<button id="all" type="button">Tick all</button>
<button id="none" type="button">Untick all</button>
<button id="save" type="button">Save selection</button>
<span id="status"></span>
</header>
<main>
<p id="help">Ticked pictures are copied by <code>mtpull backup DEST --selection FILE</code>;
unticked ones are skipped for good (<code>--include-rejected</code> brings them back).
Pictures marked <em>backed up</em> are in DEST already.</p>
<nav id="top"></nav>
<div id="groups"></div>
<nav id="bottom"></nav>
</main>
"#;

const SCRIPT: &str = r#"
"use strict";
const meta = JSON.parse(document.getElementById("meta").textContent);
const items = JSON.parse(document.getElementById("items").textContent);
const PAGE = 240;
const ticked = items.map(item => !item.backed_up);
let page = 0;
document.getElementById("title").textContent = meta.device + " — " + items.length + " pictures and videos";

const lazy = new IntersectionObserver(entries => {
  for (const entry of entries) {
    if (entry.isIntersecting) {
      const img = entry.target;
      img.src = img.dataset.src;
      lazy.unobserve(img);
    }
  }
}, { rootMargin: "600px" });

function size(bytes) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let n = bytes, u = 0;
  while (n >= 1000 && u < units.length - 1) { n /= 1000; u++; }
  return (u ? n.toFixed(1) : n) + " " + units[u];
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function card(i) {
  const item = items[i];
  const label = el("label", { class: "card", "data-path": item.path });
  const box = el("input", { type: "checkbox", "data-index": String(i) });
  if (item.backed_up) {
    box.disabled = true;
    box.checked = true;
    label.classList.add("done");
    label.appendChild(el("span", { class: "badge" }, "backed up"));
  } else {
    box.checked = ticked[i];
    label.classList.toggle("rejected", !ticked[i]);
    box.addEventListener("change", () => {
      ticked[i] = box.checked;
      label.classList.toggle("rejected", !box.checked);
      status();
    });
  }
  label.appendChild(box);
  if (item.thumb) {
    const img = el("img", { class: "thumb", alt: item.name, "data-src": item.thumb });
    lazy.observe(img);
    label.appendChild(img);
  } else {
    label.appendChild(el("div", { class: "thumb placeholder" }, item.kind === "video" ? "video" : "no preview"));
  }
  if (item.kind === "video") label.appendChild(el("span", { class: "badge video" }, "video"));
  const info = el("div", { class: "meta" });
  info.appendChild(el("div", { class: "name" }, item.name));
  info.appendChild(el("div", {}, size(item.size) + " · " + (item.date ? item.date.replace("T", " ") : "no date")));
  info.appendChild(el("div", { class: "path" }, item.storage + "/" + item.path));
  label.appendChild(info);
  return label;
}

function show(n) {
  page = Math.max(0, Math.min(n, Math.ceil(items.length / PAGE) - 1));
  const groups = document.getElementById("groups");
  groups.textContent = "";
  let day = null, grid = null;
  const end = Math.min(items.length, (page + 1) * PAGE);
  for (let i = page * PAGE; i < end; i++) {
    const d = items[i].date ? items[i].date.slice(0, 10) : "no date";
    if (d !== day) {
      day = d;
      const heading = el("h2", {}, d);
      const first = i;
      const toggle = el("button", { type: "button" }, "tick / untick day");
      toggle.addEventListener("click", () => {
        let last = first;
        while (last < end && (items[last].date ? items[last].date.slice(0, 10) : "no date") === d) last++;
        const want = !ticked.slice(first, last).some((t, k) => t && !items[first + k].backed_up);
        for (let k = first; k < last; k++) if (!items[k].backed_up) ticked[k] = want;
        show(page);
      });
      heading.appendChild(toggle);
      groups.appendChild(heading);
      grid = el("div", { class: "grid" });
      groups.appendChild(grid);
    }
    grid.appendChild(card(i));
  }
  for (const id of ["top", "bottom"]) nav(document.getElementById(id));
  status();
}

function nav(bar) {
  bar.textContent = "";
  const pages = Math.ceil(items.length / PAGE);
  if (pages < 2) return;
  const prev = el("button", { type: "button" }, "← previous");
  prev.disabled = page === 0;
  prev.addEventListener("click", () => { show(page - 1); window.scrollTo(0, 0); });
  const next = el("button", { type: "button" }, "next →");
  next.disabled = page === pages - 1;
  next.addEventListener("click", () => { show(page + 1); window.scrollTo(0, 0); });
  bar.append(prev, el("span", {}, "page " + (page + 1) + " of " + pages), next);
}

function status() {
  let chosen = 0, rejected = 0, done = 0;
  items.forEach((item, i) => item.backed_up ? done++ : ticked[i] ? chosen++ : rejected++);
  document.getElementById("status").textContent =
    chosen + " to copy · " + rejected + " skipped for good · " + done + " backed up";
}

function key(item) {
  return { storage: item.storage, path: item.path, size: item.size, date: item.date };
}

document.getElementById("all").addEventListener("click", () => { ticked.fill(true); show(page); });
document.getElementById("none").addEventListener("click", () => { ticked.fill(false); show(page); });
document.getElementById("save").addEventListener("click", () => {
  const selection = { format: meta.format, device: meta.serial, chosen: [], rejected: [] };
  items.forEach((item, i) => {
    if (!item.backed_up) (ticked[i] ? selection.chosen : selection.rejected).push(key(item));
  });
  const blob = new Blob([JSON.stringify(selection, null, 1)], { type: "application/json" });
  const link = el("a", { href: URL.createObjectURL(blob), download: "mtpull-selection.json" });
  document.body.appendChild(link);
  link.click();
  link.remove();
});
show(0);
"#;
