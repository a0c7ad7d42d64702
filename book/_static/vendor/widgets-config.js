// Ours (not vendored). Loaded after require.js and before embed-amd.js (book/_config.yml,
// nb_ipywidgets_js).
//
// 1. The widget manager (embed-amd.js) loads its icon fonts from the folder of its AMD module
//    names, by default next to the page. Point those names at ./widgets/ beside this file.
// 2. The widget manager typesets widget labels with MathJax 2's `MathJax.Hub.Queue` whenever
//    `window.MathJax` exists; the book loads MathJax 3, which has no Hub, so on a page with math
//    every widget threw "Cannot read properties of undefined (reading 'Queue')" and the panel
//    stopped rendering. Give whatever MathJax object the page gets a small Hub whose Queue
//    typesets with MathJax 3's typesetPromise.
(function () {
  var src = document.currentScript.src;
  var here = src.slice(0, src.lastIndexOf("/") + 1) + "widgets";
  require.config({paths: {"@jupyter-widgets": here, "@jupyter-widgets/html-manager/dist": here}});

  var hub = {Queue: function (job) {  // job: ["Typeset", MathJax.Hub, element]
    var mj = window.MathJax, element = job && job[2];
    if (!mj || typeof mj.typesetPromise !== "function") return;
    var ready = (mj.startup && mj.startup.promise) || Promise.resolve();
    ready.then(function () { return mj.typesetPromise(element ? [element] : undefined); })
      .catch(function (err) { console.warn("MathJax could not typeset a widget label", err); });
  }};
  function withHub(mj) {
    if (mj && typeof mj === "object" && !mj.Hub) {
      Object.defineProperty(mj, "Hub", {value: hub, configurable: true, enumerable: false});
    }
    return mj;
  }
  var current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true, enumerable: true,
    get: function () { return current; },
    set: function (value) { current = withHub(value); }
  });
})();
