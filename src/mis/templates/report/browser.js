/* The report's sample browser: a virtualised list over the index, lazily loaded chunks for the details.
   Data files are <script> files (report_files/index.js, report_files/chunks/cNNNNN.js) because browsers
   block fetch() of file:// URLs. Every piece of data reaches the page through textContent or attribute
   setters, never as HTML, so script in a question, response or model name stays text. */
(function () {
  "use strict";
  var FILES = "report_files/";
  var D = null, S = null;
  var chunks = {}, waiting = {}, qText = [], rText = null, rLoading = false;
  var filtered = [], rowH = 84, rendered = {}, openIndex = -1;
  var $ = function (id) { return document.getElementById(id); };
  /* outcome -> the metric it counts in, as chips in the list show it */
  var SHORT = {attack_success: "ASR", safe_reasoning: "RSR", refusal: "RR", hallucination: "HR", unknown: "?"};

  function status(text) { $("status").textContent = text; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function addScript(src, onerror) {
    var s = document.createElement("script");
    s.src = src;
    s.onerror = onerror;
    document.body.appendChild(s);
  }
  function pad(k) { var s = String(k); while (s.length < 5) { s = "0" + s; } return s; }

  window.__misIndex = function (index) { D = index; S = index.s; init(); };
  window.__misChunk = function (k, data) {
    chunks[k] = data;
    var cbs = waiting[k] || [];
    delete waiting[k];
    cbs.forEach(function (cb) { cb(); });
  };
  function loadChunk(k, cb) {
    if (chunks[k]) { cb(); return; }
    if (waiting[k]) { waiting[k].push(cb); return; }
    waiting[k] = [cb];
    addScript(FILES + "chunks/c" + pad(k) + ".js", function () {
      status("Could not load " + FILES + "chunks/c" + pad(k) + ".js: keep report_files/ and thumbs/ beside report.html.");
    });
  }

  function init() {
    for (var i = 0; i < D.total; i++) { qText.push((S.id[i] + "\n" + S.q[i]).toLowerCase()); }
    fillSelect("f-model", D.models.map(function (m) { return m.label; }), "all models");
    fillSelect("f-judge", D.judges.map(function (j) { return j || "(none)"; }), "all judges");
    fillSelect("f-split", D.groups, "all splits");
    fillSelect("f-category", D.categories, "all categories");
    if (D.judges.length < 2) { $("judge-filter").hidden = true; }
    var box = $("outcomes");
    D.outcomes.forEach(function (o, k) {
      var label = el("label");
      var cb = el("input");
      cb.type = "checkbox"; cb.checked = true; cb.value = String(k); cb.className = "f-outcome";
      cb.addEventListener("change", apply);
      label.appendChild(cb);
      label.appendChild(el("span", "chip o-" + o, o));
      label.appendChild(document.createTextNode(" ("));
      var n = el("span", "count", "0"); n.setAttribute("data-outcome", o);
      label.appendChild(n);
      label.appendChild(document.createTextNode(")"));
      box.appendChild(label);
    });
    ["f-model", "f-judge", "f-split", "f-category", "f-disagree"].forEach(function (id) {
      $(id).addEventListener("change", apply);
    });
    $("f-text").addEventListener("input", apply);
    $("f-scope").addEventListener("change", function () {
      $("f-text").placeholder = $("f-scope").value === "r" ? "Search responses and judge explanations"
                                                           : "Search questions and sample ids";
      if ($("f-scope").value === "r") { loadResponses(); } else { apply(); }
    });
    $("f-toggle").addEventListener("click", function () {
      var open = $("filters").classList.toggle("open");
      $("f-toggle").setAttribute("aria-expanded", open ? "true" : "false");
    });
    var list = $("list");
    var probe = el("div", "row"); probe.style.visibility = "hidden";
    list.appendChild(probe); rowH = probe.offsetHeight || 84; list.removeChild(probe);
    var pending = false;
    list.addEventListener("scroll", function () {
      if (!pending) { pending = true; requestAnimationFrame(function () { pending = false; render(); }); }
    }, {passive: true});
    window.addEventListener("resize", function () { render(); });
    $("close").addEventListener("click", closeDetail);
    $("prev").addEventListener("click", function () { step(-1); });
    $("next").addEventListener("click", function () { step(1); });
    document.addEventListener("keydown", function (e) {
      if ($("detail").hidden) { return; }
      if (e.key === "Escape") { closeDetail(); }
      if (e.key === "ArrowLeft") { step(-1); }
      if (e.key === "ArrowRight") { step(1); }
    });
    if (D.missing.length) { status(D.missing.length + " image(s) could not be shown; their samples show the path and the reason."); }
    apply();
    openFromHash();
    window.addEventListener("hashchange", openFromHash);
    document.documentElement.setAttribute("data-ready", "1");
    window.__misReadyMs = performance.now();
  }

  function fillSelect(id, values, all) {
    var sel = $(id);
    sel.appendChild(new Option(all, ""));
    values.forEach(function (v, k) { sel.appendChild(new Option(v, String(k))); });
  }
  function num(id) { var v = $(id).value; return v === "" ? -1 : Number(v); }

  function selectedSlots() {
    var model = num("f-model"), judge = num("f-judge");
    return D.slots.map(function (s) { return (model < 0 || s[0] === model) && (judge < 0 || s[1] === judge); });
  }

  function loadResponses() {
    if (rText || rLoading) { apply(); return; }
    rLoading = true;
    var done = 0, next = 0, parallel = 4;
    function one() {
      if (next >= D.chunks) { return; }
      var k = next++;
      loadChunk(k, function () {
        done += 1;
        status("Loading responses for search: " + done + " of " + D.chunks + " files");
        if (done === D.chunks) { buildResponseText(); rLoading = false; status(""); apply(); } else { one(); }
      });
    }
    for (var p = 0; p < parallel; p++) { one(); }
    if (D.chunks === 0) { rText = []; rLoading = false; apply(); }
  }
  function buildResponseText() {
    rText = [];
    for (var k = 0; k < D.chunks; k++) {
      chunks[k].forEach(function (sample) {
        rText.push(sample.map(function (v) { return [v[0], (v[1].r + "\n" + v[1].x).toLowerCase()]; }));
      });
    }
  }

  function apply() {
    var t0 = performance.now();
    var g = num("f-split"), c = num("f-category"), disagree = $("f-disagree").checked;
    var q = $("f-text").value.trim().toLowerCase();
    var inResponses = $("f-scope").value === "r";
    if (inResponses && q && !rText) { loadResponses(); }
    var on = [];
    document.querySelectorAll(".f-outcome").forEach(function (b) { on[Number(b.value)] = b.checked; });
    var sel = selectedSlots();
    var counts = D.outcomes.map(function () { return 0; });
    filtered = [];
    for (var i = 0; i < D.total; i++) {
      if ((g >= 0 && S.g[i] !== g) || (c >= 0 && S.c[i] !== c)) { continue; }
      var v = S.v[i], has = false, any = false, first = -1, differ = false;
      for (var k = 0; k < v.length; k += 2) {
        if (!sel[v[k]]) { continue; }
        has = true;
        if (first < 0) { first = v[k + 1]; } else if (v[k + 1] !== first) { differ = true; }
      }
      if (!has || (disagree && !differ)) { continue; }
      if (q) {
        if (!inResponses) {
          if (qText[i].indexOf(q) < 0) { continue; }
        } else if (rText) {
          var hit = false, texts = rText[i];
          for (var m = 0; m < texts.length && !hit; m++) { hit = sel[texts[m][0]] && texts[m][1].indexOf(q) >= 0; }
          if (!hit) { continue; }
        }
      }
      for (k = 0; k < v.length; k += 2) {
        if (!sel[v[k]]) { continue; }
        counts[v[k + 1]] += 1;
        if (on[v[k + 1]]) { any = true; }
      }
      if (any) { filtered.push(i); }
    }
    document.querySelectorAll("#outcomes .count").forEach(function (s, k) { s.textContent = String(counts[k]); });
    var pendingSearch = inResponses && q && !rText ? " (loading responses…)" : "";
    $("shown").textContent = filtered.length + " of " + D.total + " samples" + pendingSearch;
    var list = $("list");
    $("list-inner").style.height = (filtered.length * rowH) + "px";
    list.scrollTop = 0;
    Object.keys(rendered).forEach(function (key) { rendered[key].remove(); });
    rendered = {};
    render();
    if (openIndex >= 0) { navState(); }
    window.__misLastFilterMs = performance.now() - t0;
  }

  function render() {
    var list = $("list"), inner = $("list-inner");
    var first = Math.max(0, Math.floor(list.scrollTop / rowH) - 4);
    var last = Math.min(filtered.length, Math.ceil((list.scrollTop + list.clientHeight) / rowH) + 4);
    var keep = {};
    for (var p = first; p < last; p++) {
      var key = p + ":" + filtered[p];
      keep[key] = true;
      if (!rendered[key]) { rendered[key] = makeRow(filtered[p], p); inner.appendChild(rendered[key]); }
    }
    Object.keys(rendered).forEach(function (k) { if (!keep[k]) { rendered[k].remove(); delete rendered[k]; } });
  }

  function thumb(ref, cls) {
    if (ref >= 0) {
      var img = el("img");
      img.loading = "lazy"; img.decoding = "async"; img.alt = ""; img.src = D.thumbs[ref];
      if (cls) { img.className = cls; }
      return img;
    }
    var miss = D.missing[-1 - ref];
    var ph = el("div", "ph", "missing"); ph.title = miss[0] + ": " + miss[1];
    return ph;
  }

  function modelName(slot) {
    var s = D.slots[slot], label = D.models[s[0]].label;
    return D.judges.length > 1 && D.judges[s[1]] ? label + " · " + D.judges[s[1]] : label;
  }

  function makeRow(i, position) {
    var row = el("div", "row");
    row.style.top = (position * rowH) + "px";
    row.tabIndex = 0;
    row.setAttribute("role", "listitem");
    row.setAttribute("data-sample", S.id[i]);
    var thumbs = el("div", "thumbs");
    S.im[i].forEach(function (ref) { thumbs.appendChild(thumb(ref)); });
    row.appendChild(thumbs);
    var body = el("div", "body");
    var cat = S.c[i] >= 0 ? D.categories[S.c[i]] : "";
    body.appendChild(el("div", "meta", [S.id[i], D.groups[S.g[i]], cat].filter(Boolean).join(" · ")));
    body.appendChild(el("div", "q", S.q[i]));
    var chips = el("div", "chips"), sel = selectedSlots(), v = S.v[i];
    for (var k = 0; k < v.length; k += 2) {
      if (!sel[v[k]]) { continue; }
      var o = D.outcomes[v[k + 1]], s = D.slots[v[k]];
      var chip = el("span", "chip o-" + o);
      chip.appendChild(el("b", null, SHORT[o] || o));
      chip.appendChild(document.createTextNode(" " + D.models[s[0]].chip + (D.judges.length > 1 ? " · " + (s[1] + 1) : "")));
      chip.title = modelName(v[k]) + ": " + o;
      chips.appendChild(chip);
    }
    body.appendChild(chips);
    row.appendChild(body);
    row.addEventListener("click", function () { openDetail(i); });
    row.addEventListener("keydown", function (e) { if (e.key === "Enter") { openDetail(i); } });
    return row;
  }

  function openFromHash() {
    var m = /^#sample=(.*)$/.exec(location.hash);
    if (!m) { return; }
    var id = decodeURIComponent(m[1]);
    var i = S.id.indexOf(id);
    if (i >= 0 && i !== openIndex) { openDetail(i); }
  }

  function openDetail(i) {
    openIndex = i;
    var box = $("detail-body");
    box.textContent = "";
    var cat = S.c[i] >= 0 ? D.categories[S.c[i]] : "";
    var sub = S.sc[i] >= 0 ? D.subcategories[S.sc[i]] : "";
    $("detail-title").textContent = [S.id[i], D.groups[S.g[i]], cat + (sub ? " / " + sub : "")]
      .filter(Boolean).join(" · ");
    var images = el("div", "images");
    S.im[i].forEach(function (ref, k) {
      var fig = el("figure");
      if (ref >= 0) {
        fig.appendChild(thumb(ref));
      } else {
        var miss = D.missing[-1 - ref];
        var ph = el("div", "ph");
        ph.appendChild(el("div", null, "image " + (k + 1) + " missing"));
        ph.appendChild(el("code", null, miss[0]));
        ph.appendChild(el("div", null, miss[1]));
        fig.appendChild(ph);
      }
      fig.appendChild(el("figcaption", null, "image " + (k + 1)));
      images.appendChild(fig);
    });
    box.appendChild(images);
    box.appendChild(el("div", "question", S.q[i]));
    var answers = el("div", "answers");
    answers.appendChild(el("p", "note", "Loading responses…"));
    box.appendChild(answers);
    $("detail").hidden = false;
    navState();
    if (document.activeElement === document.body || !$("detail").contains(document.activeElement)) {
      $("close").focus();
    }
    if (location.hash !== "#sample=" + encodeURIComponent(S.id[i])) {
      history.replaceState(null, "", "#sample=" + encodeURIComponent(S.id[i]));
    }
    var k = Math.floor(i / D.chunk);
    loadChunk(k, function () { if (openIndex === i) { fillAnswers(answers, chunks[k][i - k * D.chunk], S.v[i]); } });
  }

  function fillAnswers(box, detail, verdicts) {
    box.textContent = "";
    var outcome = {};
    for (var k = 0; k < verdicts.length; k += 2) { outcome[verdicts[k]] = D.outcomes[verdicts[k + 1]]; }
    var byModel = {};
    var order = [];
    detail.forEach(function (pair) {
      var m = D.slots[pair[0]][0];
      if (!byModel[m]) { byModel[m] = []; order.push(m); }
      byModel[m].push(pair);
    });
    order.forEach(function (m) {
      var card = el("section", "answer");
      var h = el("h4", null, D.models[m].label); h.title = D.models[m].model;
      card.appendChild(h);
      var shown = {};
      byModel[m].forEach(function (pair) {
        var v = pair[1], o = outcome[pair[0]] || "n/a";
        var line = el("div", "verdict");
        line.appendChild(el("span", "badge o-" + o, o));
        var bits = [];
        if (v.p || v.s) { bits.push("perception " + (v.p || "-") + ", safety " + (v.s || "-")); }
        var judge = D.judges[D.slots[pair[0]][1]];
        if (judge) { bits.push("judge " + judge); }
        line.appendChild(document.createTextNode(" " + bits.join(" · ")));
        card.appendChild(line);
        if (v.x) { card.appendChild(el("div", "verdict", "Judge: " + v.x)); }
        if (!shown[v.r]) { shown[v.r] = true; card.appendChild(el("div", "resp", v.r)); }
        if (v.e.length) {
          var extra = el("div", "extra");
          v.e.forEach(function (kv, n) {
            extra.appendChild(el("b", null, kv[0] + ": "));
            extra.appendChild(document.createTextNode(kv[1] + (n + 1 < v.e.length ? " · " : "")));
          });
          card.appendChild(extra);
        }
      });
      box.appendChild(card);
    });
  }

  function navState() {
    var p = filtered.indexOf(openIndex);
    $("prev").disabled = p <= 0;
    $("next").disabled = p < 0 || p >= filtered.length - 1;
  }

  /* the previous / next sample among those the filters show */
  function step(by) {
    var p = filtered.indexOf(openIndex);
    if (p < 0 || p + by < 0 || p + by >= filtered.length) { return; }
    openDetail(filtered[p + by]);
  }

  function closeDetail() {
    if ($("detail").hidden) { return; }
    $("detail").hidden = true;
    openIndex = -1;
    history.replaceState(null, "", location.pathname + location.search);
  }

  addScript(FILES + "index.js", function () {
    status("Could not load " + FILES + "index.js: keep the report_files/ and thumbs/ folders beside report.html.");
  });
})();
