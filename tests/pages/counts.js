'use strict';
var intervals = [];
var timeouts = [];
var params = new URLSearchParams(location.search);
var statusUrl = '/api/video/status?operationName=';

function tick() {}

function startIntervals() {
  for (var i = 0; i < 3; i++) {
    intervals.push(setInterval(tick, 60000));
  }
}

function startTimeouts() {
  timeouts.push(setTimeout(tick, 60000));
  timeouts.push(setTimeout(function () { window.shortTimeoutFired = true; }, 10));
}

function clearFirstInterval() {
  clearInterval(intervals[0]);
}

startIntervals();
startTimeouts();
clearFirstInterval();

// One request per outcome; each resolves to a short description of what the page saw.
function completedFetch() {
  return fetch(statusUrl + 'counts-ok').then(function (r) { return r.json(); }).then(function () { return 'completed'; });
}

function abortedFetch() {
  var controller = new AbortController();
  var pending = fetch(statusUrl + 'counts-hang', { signal: controller.signal });
  setTimeout(function () { controller.abort(); }, 50);
  return pending.then(function () { return 'resolved'; }, function (e) { return e.name; });
}

function failedFetch() {
  return fetch('http://127.0.0.1:1/refused').then(function () { return 'resolved'; }, function (e) { return e.name; });
}

function preAbortedFetch() {
  var controller = new AbortController();
  controller.abort();
  return fetch(statusUrl + 'counts-ok', { signal: controller.signal }).then(function () { return 'resolved'; }, function (e) { return e.name; });
}

function abortedXhr() {
  return new Promise(function (resolve) {
    var xhr = new XMLHttpRequest();
    xhr.onabort = function () { resolve('abort'); };
    xhr.onload = function () { resolve('load'); };
    xhr.open('GET', statusUrl + 'counts-hang');
    xhr.send();
    setTimeout(function () { xhr.abort(); }, 50);
  });
}

function hangingFetch() {
  fetch(statusUrl + 'counts-hang').catch(function () {});
  return 'started';
}

// Reads a JSON response as text, as the demo editor does. Resolves to the text's length.
function readAsText(operation) {
  return fetch(statusUrl + operation).then(function (r) { return r.text(); }).then(function (text) { return text.length; });
}

// Reads a JSON response with arrayBuffer(). Resolves to its length in bytes.
function readAsBytes(operation) {
  return fetch(statusUrl + operation).then(function (r) { return r.arrayBuffer(); }).then(function (bytes) { return bytes.byteLength; });
}

// Fetches a JSON response and never reads its body. Resolves to the status.
function leaveUnread(operation) {
  return fetch(statusUrl + operation).then(function (r) { return r.status; });
}

// Starts a fetch and changes the route in the same task, as an editor that
// closes a panel right after its poll fired.
function fetchThenNavigate(operation) {
  fetch(statusUrl + operation);
  history.pushState({}, '', '/elsewhere');
  return location.pathname;
}
