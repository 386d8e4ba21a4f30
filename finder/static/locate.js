/* "Use my location": asks the browser for a position and searches near it. The page works
   without this file; the button stays hidden unless geolocation is available. */
(function () {
  "use strict";

  function init() {
    if (!("geolocation" in navigator)) {
      return;
    }
    var buttons = document.querySelectorAll("[data-locate]");
    Array.prototype.forEach.call(buttons, function (button) {
      var form = button.closest("form");
      if (!form) {
        return;
      }
      var status = form.querySelector("[data-locate-status]");
      button.hidden = false;
      button.addEventListener("click", function () {
        locate(form, button, status);
      });
    });
  }

  function say(status, text) {
    if (status) {
      status.textContent = text;
    }
  }

  function locate(form, button, status) {
    button.disabled = true;
    say(status, "Finding your location…");
    navigator.geolocation.getCurrentPosition(
      function (position) {
        var params = new URLSearchParams();
        new FormData(form).forEach(function (value, name) {
          if (name !== "location" && name !== "lat" && name !== "lon" && name !== "page") {
            params.append(name, value);
          }
        });
        params.set("lat", position.coords.latitude.toFixed(5));
        params.set("lon", position.coords.longitude.toFixed(5));
        say(status, "Searching near your location…");
        window.location.assign(form.action + "?" + params.toString());
      },
      function () {
        button.disabled = false;
        say(status, "We couldn't get your location. Enter a ZIP code, city or address instead.");
        var input = form.querySelector("input[name=location]");
        if (input) {
          input.focus();
        }
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 300000 }
    );
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
