// Usher console: two small enhancements; every page works without them.
// 1. The custom-data editor says at once whether its text is a JSON object
//    within the limits (the server checks again and refuses otherwise).
// 2. The import form uploads with a progress bar and shows the result
//    without leaving the page.
"use strict";

(function () {
  var maxBytes = 65536, maxDepth = 32;

  function depth(v) {
    if (v === null || typeof v !== "object") return 0;
    var d = 0;
    for (var k in v) {
      if (Object.prototype.hasOwnProperty.call(v, k)) d = Math.max(d, depth(v[k]));
    }
    return d + 1;
  }

  function checkJSON(text) {
    var v;
    try { v = JSON.parse(text); } catch (e) { return "Not valid JSON: " + e.message; }
    if (v === null || typeof v !== "object" || Array.isArray(v)) return "Custom data must be a JSON object ({...}).";
    if (new TextEncoder().encode(JSON.stringify(v)).length > maxBytes) return "Over 64 KiB.";
    if (depth(v) > maxDepth) return "Nested deeper than 32 levels.";
    return "";
  }

  document.querySelectorAll("form[data-json-editor]").forEach(function (form) {
    var area = form.querySelector("textarea");
    var out = form.querySelector("#data-check");
    function update() {
      var problem = checkJSON(area.value);
      area.setAttribute("aria-invalid", problem ? "true" : "false");
      out.textContent = problem || "Valid JSON object.";
      out.className = problem ? "hint bad" : "hint good";
    }
    area.addEventListener("input", update);
  });

  var form = document.getElementById("import-form");
  if (!form || !window.FormData) return;
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var bar = document.getElementById("import-progress");
    var status = document.getElementById("import-status");
    var result = document.getElementById("import-result");
    var button = document.getElementById("import");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action"));
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    bar.value = 0;
    button.disabled = true;
    status.textContent = "Uploading…";
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round(100 * e.loaded / e.total);
        status.textContent = bar.value < 100 ? "Importing… " + bar.value + "%" : "Finishing…";
      }
    });
    xhr.addEventListener("loadend", function () {
      button.disabled = false;
      bar.value = 100;
      result.textContent = "";
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* shown below */ }
      if (!body || (!body.summary && !body.error)) {
        status.textContent = "The import failed (HTTP " + xhr.status + ").";
        return;
      }
      if (body.error && typeof body.error === "object") {
        status.textContent = body.error.message;
        return;
      }
      status.textContent = "Done.";
      var p = document.createElement("p");
      p.className = "flash ok";
      p.id = "import-summary";
      p.setAttribute("role", "status");
      var s = body.summary;
      p.textContent = "Created " + s.created + ", updated " + s.updated + ", skipped " + s.skipped + ", refused " + s.refused + ".";
      result.appendChild(p);
      if (body.error) {
        var e = document.createElement("p");
        e.className = "flash error";
        e.textContent = body.error;
        result.appendChild(e);
      }
      if (body.refused && body.refused.length) {
        var table = document.createElement("table");
        table.id = "refused";
        var head = table.createTHead().insertRow();
        ["Line", "Reason"].forEach(function (h) {
          var th = document.createElement("th");
          th.scope = "col";
          th.textContent = h;
          head.appendChild(th);
        });
        var tb = table.createTBody();
        body.refused.forEach(function (r) {
          var row = tb.insertRow();
          row.insertCell().textContent = r.line;
          row.insertCell().textContent = r.message;
        });
        var wrap = document.createElement("div");
        wrap.className = "scroll";
        wrap.appendChild(table);
        result.appendChild(wrap);
      }
    });
    xhr.send(new FormData(form));
  });
})();
