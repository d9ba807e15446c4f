// Live updates with the browser's own EventSource: a new alert appears without a reload,
// with a visual cue and (if ticked) a short tone. Everything else works without script.
(function () {
  if (!window.EventSource) return;
  var status = document.getElementById("live-status");
  var live = document.getElementById("live");
  var sound = document.getElementById("sound");
  function beep() {
    if (!sound || !sound.checked) return;
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var osc = ctx.createOscillator(); osc.frequency.value = 880; osc.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.25);
    } catch (e) { /* no audio: the visual cue remains */ }
  }
  if (status) status.textContent = "Live updates connecting…";
  var source = new EventSource("/events");
  // The session ended (logout elsewhere, expiry): stop, do not reconnect.
  source.addEventListener("signed-out", function () { source.close(); });
  source.addEventListener("alert", function (event) {
    var data = JSON.parse(event.data);
    if (live) live.textContent = data.text;
    beep();
    var board = document.querySelector("[data-testid=board]");
    if (!board) return;
    fetch(location.pathname, {credentials: "same-origin"}).then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("[data-testid=board]");
        if (!fresh) return;
        // Someone typing a reason or a note: leave the board as it is (the next event, or
        // a reload, brings it up to date) rather than replace the form under their hands.
        var typing = document.activeElement;
        if (typing && board.contains(typing) && /INPUT|SELECT|TEXTAREA/.test(typing.tagName)
            && typing.value) return;
        var seen = {};
        board.querySelectorAll("tr[data-alert-id]").forEach(function (tr) { seen[tr.dataset.alertId] = 1; });
        fresh.querySelectorAll("tr[data-alert-id]").forEach(function (tr) {
          if (!seen[tr.dataset.alertId]) tr.classList.add("new");
        });
        // Every patient card at once (one tbody each): cards come and go and reorder.
        board.querySelectorAll("tbody").forEach(function (t) { t.remove(); });
        fresh.querySelectorAll("tbody").forEach(function (t) { board.appendChild(document.adoptNode(t)); });
        var counts = doc.querySelector("[data-testid=counts]");
        var myCounts = document.querySelector("[data-testid=counts]");
        if (counts && myCounts) myCounts.innerHTML = counts.innerHTML;
        var count = doc.querySelector("[data-testid=active-count]");
        var mine = document.querySelector("[data-testid=active-count]");
        if (count && mine) mine.textContent = count.textContent;
        document.title = doc.title;  // "(3) Alert board": the count shows in the tab
      });
  });
  source.onerror = function () { if (status) status.textContent = "Live updates reconnecting…"; };
  // "ready" comes once the server has subscribed: from then on no alert can be missed
  // (the connection opening is not enough: it precedes the subscription).
  source.addEventListener("ready", function () {
    if (status) status.textContent = "Live updates on.";
  });
})();
