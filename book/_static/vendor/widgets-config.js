// The widget manager (embed-amd.js) loads its icon fonts from the folder of its AMD module
// names, by default next to the page. Point those names at ./widgets/ beside this file instead.
// Loaded after require.js and before embed-amd.js (book/_config.yml, nb_ipywidgets_js).
(function () {
  var src = document.currentScript.src;
  var here = src.slice(0, src.lastIndexOf("/") + 1) + "widgets";
  require.config({paths: {"@jupyter-widgets": here, "@jupyter-widgets/html-manager/dist": here}});
})();
