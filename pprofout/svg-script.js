// cprof flame graph: hover for details, click to zoom, Reset zoom, Search.
// Self-contained: no network, no external script or font.
"use strict";
var W, PAD = 10, frames, details, matched, total, unit, zoomed = null;
function attr(e, n) { return e.getAttribute(n); }
function num(e, n) { return +e.getAttribute(n); }
function fmt(v) {
	return unit === "ms" ? (v / 1e6).toFixed(2) + " ms" : String(v);
}
function fit(g) {
	var r = g.querySelector("rect"), t = g.querySelector("text");
	var w = +r.getAttribute("width"), name = attr(g, "data-n");
	t.setAttribute("x", +r.getAttribute("x") + 3);
	var chars = Math.floor((w - 6) / 7);
	if (chars < 3 || g.style.display === "none") { t.textContent = ""; return; }
	t.textContent = name.length <= chars ? name : name.slice(0, chars - 2) + "..";
}
function place(g, x, w) {
	var r = g.querySelector("rect");
	r.setAttribute("x", x.toFixed(2));
	r.setAttribute("width", w.toFixed(2));
	g.style.display = "";
	fit(g);
}
function zoom(g) {
	var x0 = num(g, "data-x"), v0 = num(g, "data-v"), d0 = num(g, "data-d");
	var span = W - 2 * PAD;
	zoomed = g;
	for (var i = 0; i < frames.length; i++) {
		var f = frames[i], x = num(f, "data-x"), v = num(f, "data-v"),
			d = num(f, "data-d");
		if (d < d0 && x <= x0 && x0 + v0 <= x + v) {
			place(f, PAD, span);
			f.classList.add("parent");
		} else if (d >= d0 && x >= x0 && x + v <= x0 + v0) {
			place(f, PAD + (x - x0) / v0 * span, v / v0 * span);
			f.classList.remove("parent");
		} else {
			f.style.display = "none";
		}
	}
}
function reset() {
	var span = W - 2 * PAD;
	zoomed = null;
	for (var i = 0; i < frames.length; i++) {
		var f = frames[i];
		f.classList.remove("parent");
		place(f, PAD + num(f, "data-x") / total * span,
			num(f, "data-v") / total * span);
	}
}
// Highlights the frames whose name matches; returns the share of the
// whole they cover, each stack counted once (matches under a match are
// inside its width already).
function search(term) {
	var re = new RegExp(term), spans = [], covered = 0, end = -1;
	for (var i = 0; i < frames.length; i++) {
		var f = frames[i], hit = re.test(attr(f, "data-n")) && num(f, "data-d") > 0;
		f.classList.toggle("match", hit);
		if (hit) spans.push([num(f, "data-x"), num(f, "data-v")]);
	}
	spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
	for (var j = 0; j < spans.length; j++) {
		var s = spans[j][0], e = s + spans[j][1];
		if (e <= end) continue;
		covered += e - Math.max(s, end);
		end = e;
	}
	var pct = covered / total * 100;
	matched.textContent = spans.length ? "Matched: " + pct.toFixed(1) + "%" : "No match";
	return pct;
}
function show(g) {
	details.textContent = g.querySelector("title").textContent;
}
function selftest(name) {
	var out = document.getElementById("selftest"), problems = [];
	var target = null;
	for (var i = 0; i < frames.length; i++)
		if (attr(frames[i], "data-n") === name) { target = frames[i]; break; }
	if (!target) problems.push("no frame " + name);
	else {
		zoom(target);
		var w = +target.querySelector("rect").getAttribute("width");
		if (Math.abs(w - (W - 2 * PAD)) > 1) problems.push("zoomed width " + w);
		var pct = search(name);
		if (!(pct > 0)) problems.push("search found " + pct);
		out.setAttribute("data-zoomed-width", w.toFixed(1));
		out.setAttribute("data-matched", pct.toFixed(2));
		reset();
	}
	out.textContent = problems.length ? "selftest FAIL: " + problems.join("; ") : "selftest ok";
}
function init() {
	var svg = document.documentElement;
	W = +svg.getAttribute("width");
	total = +svg.getAttribute("data-total");
	unit = svg.getAttribute("data-unit");
	frames = Array.prototype.slice.call(document.querySelectorAll("g.f"));
	details = document.getElementById("details");
	matched = document.getElementById("matched");
	for (var i = 0; i < frames.length; i++) {
		frames[i].addEventListener("click", function () { zoom(this); });
		frames[i].addEventListener("mouseover", function () { show(this); });
		fit(frames[i]);
	}
	document.getElementById("reset").addEventListener("click", reset);
	document.getElementById("search").addEventListener("click", function () {
		var term = prompt("Search for (a regular expression):", "");
		if (term) search(term);
	});
	var m = /^#selftest:(.+)$/.exec(location.hash);
	if (m) selftest(decodeURIComponent(m[1]));
}
window.addEventListener("error", function (e) {
	var out = document.getElementById("selftest");
	if (out) out.textContent = "selftest FAIL: script error: " + e.message;
});
window.addEventListener("load", function () {
	try { init(); } catch (e) {
		var out = document.getElementById("selftest");
		if (out) out.textContent = "selftest FAIL: " + e;
	}
});
