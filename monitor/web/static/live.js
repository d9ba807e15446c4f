// Live updates with the browser's own EventSource: a new alert appears without a reload,
// with a visual cue, the tab title's count, the chosen tone and (on request) a desktop
// notification. Everything else works without script.
(function () {
  if (!window.EventSource) return;
  var SOUND_KEY = "sodium-monitor.sound", DESKTOP_KEY = "sodium-monitor.desktop";
  // Private windows may refuse storage: the choices then last for the page only.
  var memory = {};
  function get(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return memory[key] || null; }
  }
  function set(key, value) {
    memory[key] = value;
    try { window.localStorage.setItem(key, value); } catch (e) { /* kept in memory */ }
  }
  var status = document.getElementById("live-status");
  var live = document.getElementById("live");
  var board = document.querySelector("[data-testid=board]");
  var controls = document.getElementById("alarm-controls");
  if (controls) controls.hidden = false;

  // --- the tone: generated with WebAudio, no audio file to fetch.
  var TONES = {  // [frequency Hz, start s, length s]
    chime: {type: "sine", notes: [[880, 0, 0.25], [660, 0.3, 0.35]]},
    alarm: {type: "square", notes: [[988, 0, 0.15], [784, 0.2, 0.15], [988, 0.4, 0.15],
                                    [784, 0.6, 0.15]]}
  };
  var audio = null;
  function context() {
    var Audio = window.AudioContext || window.webkitAudioContext;
    if (!Audio) return null;
    if (!audio) audio = new Audio();
    // Browsers start audio suspended until the user interacts with the page.
    if (audio.state === "suspended" && audio.resume) audio.resume();
    return audio;
  }
  function choice() { return TONES[get(SOUND_KEY)] ? get(SOUND_KEY) : "off"; }
  function tone() {
    var t = TONES[choice()];
    if (!t) return;
    try {
      var ctx = context();
      if (!ctx) return;
      t.notes.forEach(function (n) {
        var osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.type = t.type; osc.frequency.value = n[0]; gain.gain.value = 0.2;
        osc.connect(gain); gain.connect(ctx.destination);
        osc.start(ctx.currentTime + n[1]); osc.stop(ctx.currentTime + n[1] + n[2]);
      });
    } catch (e) { /* no audio: the visual cue remains */ }
  }
  // The first click or key on the page lets the browser play later tones.
  function unlock() { if (choice() !== "off") context(); }
  document.addEventListener("click", unlock, {once: true});
  document.addEventListener("keydown", unlock, {once: true});

  // An unacknowledged critical keeps sounding, every data-repeat-seconds, until someone
  // acknowledges it (the board no longer shows it unacknowledged) or the sound is off.
  var repeating = null;
  function criticalWaiting() {
    return board && board.querySelector(
      "tr[data-severity=critical][data-lifecycle=unacknowledged]");
  }
  function keepSounding() {
    var wanted = choice() !== "off" && criticalWaiting();
    if (wanted && !repeating) {
      var seconds = Number(board.dataset.repeatSeconds) || 30;
      repeating = setInterval(function () {
        if (choice() === "off" || !criticalWaiting()) { stop(); return; }
        tone();
      }, seconds * 1000);
    } else if (!wanted && repeating) {
      stop();
    }
  }
  function stop() { clearInterval(repeating); repeating = null; }

  var sound = document.getElementById("sound");
  if (sound) {
    sound.value = choice();
    sound.addEventListener("change", function () {
      set(SOUND_KEY, sound.value);
      tone();  // a sample of the choice (and the click that allows audio)
      keepSounding();
    });
  }
  keepSounding();

  // --- desktop notifications: permission asked only when the button is clicked.
  var desktop = document.getElementById("desktop");
  var desktopStatus = document.getElementById("desktop-status");
  function notifying() {
    return !!window.Notification && Notification.permission === "granted"
      && get(DESKTOP_KEY) === "on";
  }
  function showDesktop() {
    if (!desktop) return;
    if (!window.Notification) { desktop.hidden = true; return; }
    desktop.hidden = false;
    desktop.textContent = notifying() ? "Turn off desktop notifications"
      : "Enable desktop notifications";
    if (desktopStatus) {
      desktopStatus.textContent = notifying() ? "Desktop notifications on."
        : Notification.permission === "denied"
          ? "Desktop notifications are blocked in this browser's settings." : "";
    }
  }
  if (desktop) {
    desktop.addEventListener("click", function () {
      if (notifying()) { set(DESKTOP_KEY, "off"); showDesktop(); return; }
      Promise.resolve(Notification.requestPermission()).then(function (permission) {
        set(DESKTOP_KEY, permission === "granted" ? "on" : "off");
        showDesktop();
      });
    });
  }
  showDesktop();
  function notify(data) {
    if (!notifying()) return;
    try {
      // The masked words the server sends (ward, bed, rule, severity): a notification
      // shows on a locked screen, so never the name or the MRN.
      new Notification("sodium-monitor", {body: data.text, tag: "alert-" + data.id});
    } catch (e) { /* the board still shows it */ }
  }

  // Alerts already known to this page: an event about one of them is a change (an
  // acknowledgement, a new value), not a new alert to sound.
  var known = {};
  if (board) {
    board.querySelectorAll("tr[data-alert-id]").forEach(function (tr) {
      known[tr.dataset.alertId] = 1;
    });
  }

  function refresh() {
    fetch(location.pathname, {credentials: "same-origin"}).then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.title = doc.title;  // "(3) Alert board": the unacknowledged in the tab
        var nav = doc.getElementById("nav-board"), myNav = document.getElementById("nav-board");
        if (nav && myNav) myNav.innerHTML = nav.innerHTML;
        var counts = doc.querySelector("[data-testid=counts]");
        var myCounts = document.querySelector("[data-testid=counts]");
        if (counts && myCounts) myCounts.innerHTML = counts.innerHTML;
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
          known[tr.dataset.alertId] = 1;
        });
        // Every patient card at once (one tbody each): cards come and go and reorder.
        board.querySelectorAll("tbody").forEach(function (t) { t.remove(); });
        fresh.querySelectorAll("tbody").forEach(function (t) { board.appendChild(document.adoptNode(t)); });
        keepSounding();
      });
  }

  if (status) status.textContent = "Live updates connecting…";
  var source = new EventSource("/events");
  // The session ended (logout elsewhere, expiry): stop, do not reconnect.
  source.addEventListener("signed-out", function () { source.close(); });
  source.addEventListener("alert", function (event) {
    var data = JSON.parse(event.data);
    if (live) live.textContent = data.text;
    if (data.lifecycle === "unacknowledged" && !known[data.id]) {
      known[data.id] = 1;
      tone();
      notify(data);
    }
    if (board) refresh();
    else countInTitle(data.unacknowledged);
  });
  // Pages other than the board: the tab title and the nav link count from the event.
  function countInTitle(n) {
    if (typeof n !== "number") return;
    document.title = (n ? "(" + n + ") " : "") + document.title.replace(/^\(\d+\) /, "");
    var nav = document.getElementById("nav-board");
    if (!nav) return;
    var count = nav.querySelector("[data-testid=unacknowledged-count]");
    if (!count && n) {
      count = document.createElement("span");
      count.className = "count"; count.dataset.testid = "unacknowledged-count";
      nav.appendChild(document.createTextNode(" ")); nav.appendChild(count);
    }
    if (count) { count.textContent = String(n); count.hidden = !n; }
  }
  source.onerror = function () { if (status) status.textContent = "Live updates reconnecting…"; };
  // "ready" comes once the server has subscribed: from then on no alert can be missed
  // (the connection opening is not enough: it precedes the subscription).
  source.addEventListener("ready", function () {
    document.body.dataset.live = "on";  // for pages without a status line (and tests)
    if (status) status.textContent = "Live updates on.";
  });
})();
