// The tablet's music pause: a calm notice while the session's music is paused (after a
// restart, or by a facilitator) and the Pause music / Resume music buttons beside the volume.
// tablet.js tells it of every state ("roomstate"); `command` is tablet.js's.
"use strict";
(() => {
  const notice = document.getElementById("music-paused");
  const pause = document.getElementById("music-pause");
  const resume = document.getElementById("music-resume");
  pause.addEventListener("click", () => command("session/music/pause", undefined, "Pause music"));
  resume.addEventListener("click", () => command("session/music/resume", undefined, "Resume music"));
  document.addEventListener("roomstate", (e) => {
    const paused = e.detail.music_paused;
    notice.hidden = !paused;
    notice.textContent = !paused ? "" :
      paused.reason === "power cut" ? "Music paused after a restart" : "Music paused";
    pause.hidden = !!paused;
    resume.hidden = !paused;
  });
})();
