/*
 * LTI Client Side postMessage storage (1EdTech "LTI Client Side postMessages" and "Platform
 * Storage"): for browsers that do not keep this tool's cookie inside the LMS frame.
 *
 * The page holds an element #lti-storage whose data attributes say what to do:
 *   data-action   "put" (login: store the state and nonce, then go on to data-continue) or
 *                 "get" (launch: read them back into the form's stored_state/stored_nonce
 *                 fields, then send the form);
 *   data-origin   the platform's origin: the only target origin of our messages and the only
 *                 origin whose answers count (never "*": the values are secrets);
 *   data-target   the platform's storage frame (lti_storage_target; "_parent" for the parent);
 *   data-state-key, data-nonce-key, and for "put" data-state, data-nonce.
 *
 * lti.capabilities is asked first; a platform that does not answer it is asked directly.
 * Every question waits at most TIMEOUT_MS. Whatever fails, the page goes on: the login to the
 * platform (the cookie may still work; if not, the launch offers a new window), the launch
 * form with empty values (the tool then refuses readably and offers a new window).
 */
(function () {
  "use strict";

  var TIMEOUT_MS = 1500;
  var element = document.getElementById("lti-storage");
  if (!element) { return; }
  var settings = element.dataset;
  var origin = settings.origin;
  var counter = 0;

  function randomId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  /* The frame named ``name`` in the window framing us (null when we are not framed). */
  function frameNamed(name) {
    var parent = window.parent;
    if (!parent || parent === window || !name) { return null; }
    if (name === "_parent") { return parent; }
    try {
      return parent.frames[name] || null;
    } catch (problem) {
      return null;
    }
  }

  /* Post ``message`` to ``target`` and wait for its ".response" from the platform's origin. */
  function ask(target, message) {
    return new Promise(function (resolve, reject) {
      counter += 1;
      var messageId = "badgebridge-" + counter + "-" + randomId();
      var timer = null;
      function listen(event) {
        var reply = event.data;
        if (event.origin !== origin || !reply || typeof reply !== "object") { return; }
        if (reply.message_id !== messageId || reply.subject !== message.subject + ".response") {
          return;
        }
        window.removeEventListener("message", listen);
        window.clearTimeout(timer);
        if (reply.error) { reject(reply.error); } else { resolve(reply); }
      }
      window.addEventListener("message", listen);
      timer = window.setTimeout(function () {
        window.removeEventListener("message", listen);
        reject({ code: "timeout", message: "no answer from the platform" });
      }, TIMEOUT_MS);
      var sent = { message_id: messageId };
      Object.keys(message).forEach(function (name) { sent[name] = message[name]; });
      try {
        target.postMessage(sent, origin);
      } catch (problem) {
        window.clearTimeout(timer);
        window.removeEventListener("message", listen);
        reject({ code: "post_failed", message: String(problem) });
      }
    });
  }

  /* The frame that answers ``subject``: the storage target, or the frame its capabilities
     name for that subject. */
  function storageFrameFor(subject) {
    var target = frameNamed(settings.target);
    if (!target) { return Promise.reject({ code: "no_frame" }); }
    return ask(target, { subject: "lti.capabilities" }).then(function (reply) {
      var supported = Array.isArray(reply.supported_messages) ? reply.supported_messages : [];
      for (var i = 0; i < supported.length; i += 1) {
        if (supported[i] && supported[i].subject === subject) {
          return (supported[i].frame && frameNamed(supported[i].frame)) || target;
        }
      }
      throw { code: "unsupported", message: subject + " is not supported" };
    }, function (problem) {
      if (problem && problem.code === "timeout") { return target; }
      throw problem;
    });
  }

  function putStateAndNonce() {
    return storageFrameFor("lti.put_data").then(function (frame) {
      return ask(frame, { subject: "lti.put_data", key: settings.stateKey, value: settings.state })
        .then(function () {
          return ask(frame, {
            subject: "lti.put_data", key: settings.nonceKey, value: settings.nonce
          });
        });
    });
  }

  function getStateAndNonce(form) {
    return storageFrameFor("lti.get_data").then(function (frame) {
      return ask(frame, { subject: "lti.get_data", key: settings.stateKey })
        .then(function (reply) {
          form.elements.stored_state.value = typeof reply.value === "string" ? reply.value : "";
          return ask(frame, { subject: "lti.get_data", key: settings.nonceKey });
        })
        .then(function (reply) {
          form.elements.stored_nonce.value = typeof reply.value === "string" ? reply.value : "";
        });
    });
  }

  function start() {
    if (settings.action === "put") {
      var onward = function () { window.location.replace(settings.continue); };
      putStateAndNonce().then(onward, onward);
    } else if (settings.action === "get") {
      var send = function () { element.submit(); };
      getStateAndNonce(element).then(send, send);
    }
  }

  start();
}());
