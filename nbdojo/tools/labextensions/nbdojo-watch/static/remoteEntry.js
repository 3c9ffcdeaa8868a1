/* nbdojo watch's JupyterLab extension, written by hand (no npm build): a module-federation container, as
 * JupyterLab's bootstrap loads one (window._JUPYTERLAB[name].init(shareScope), then .get("./extension")),
 * whose plugin needs only the application object, so it shares no module with JupyterLab.
 *
 * - Following: a trajectory notebook opens at its newest cell and stays there as cells and outputs arrive,
 *   until the person scrolls up (wheel, keys, scrollbar); scrolling back to the bottom, or clicking the
 *   toolbar badge, follows again.
 * - Read-only: the server serves trajectory cells non-editable and non-deletable, and the file non-writable
 *   (JupyterLab's read-only indicator); adding, pasting, moving or cutting cells in the browser is refused
 *   with a note why (a cell added some other way is taken out again).
 * - Agent kernels: restart and shutdown are answered with a note that says why they are not possible here,
 *   instead of a request the server refuses (which left a console at "Restarting"). Interrupt goes to the
 *   server, which decides: it interrupts the kernel of a run that allows it (nbdojo run --allow-interrupt)
 *   and refuses the others with a reason, shown as a note.
 */
(function () {
  "use strict";

  var NAME = "nbdojo-watch";
  var TRAJECTORY = "trajectory.ipynb";
  var BOTTOM_SLACK = 24;   // px: "at the bottom" despite rounding and a last output line still growing
  var USER_INTENT_MS = 1500;
  var AGENT_KERNEL = "This kernel belongs to a running agent episode: nbdojo watch cannot %s it. The episode "
    + "owns its kernel (it interrupts a runaway cell and closes the kernel when it ends); you may inspect its "
    + "variables here.";

  function notify(app, message, type) {
    app.commands.execute("apputils:notify", {message: message, type: type || "warning",
                                             options: {autoClose: 10000}}).catch(function () {});
  }

  function refusal(app, action) {
    var message = AGENT_KERNEL.replace("%s", action);
    notify(app, message);
    return message;
  }

  function isTrajectory(panel) {
    var path = panel.context && panel.context.path;
    return typeof path === "string" && (path === TRAJECTORY || path.slice(-TRAJECTORY.length - 1) === "/" + TRAJECTORY);
  }

  // ----- following the newest cell ------------------------------------------------------------

  function follow(app, panel) {
    var notebook = panel.content;
    // the scrolling element, and the cells in it (below them, "scroll past end" leaves blank space)
    var outer = notebook.outerNode || notebook.node.querySelector(".jp-WindowedPanel-outer");
    var inner = outer.querySelector(".jp-WindowedPanel-inner") || outer.firstElementChild;
    var state = {following: true, userAt: 0, pending: false};
    var badge = document.createElement("div");
    badge.className = "nbdojo-follow-badge";
    badge.style.cssText = "margin:0 8px;padding:0 6px;font-size:var(--jp-ui-font-size1);cursor:pointer;"
      + "border-radius:3px;align-self:center;white-space:nowrap;";
    badge.title = "Written by nbdojo: the agent's record, read-only here. Click to follow the newest cell.";
    panel.toolbar.node.appendChild(badge);

    function end() { return Math.max(0, inner.offsetHeight - outer.clientHeight); }  // the last cell's bottom
    function atBottom() { return outer.scrollTop >= end() - BOTTOM_SLACK; }
    function show() {
      outer.dataset.nbdojoFollowing = String(state.following);
      badge.textContent = state.following ? "Read-only trajectory \u00b7 following the newest cell"
                                          : "Read-only trajectory \u00b7 scrolled up: click to follow";
      badge.style.background = state.following ? "var(--jp-success-color3)" : "var(--jp-warn-color3)";
    }
    function toBottom() {
      state.pending = false;
      if (state.following && !panel.isDisposed && Math.abs(outer.scrollTop - end()) > 1) outer.scrollTop = end();
    }
    function schedule() {
      if (state.following && !state.pending) {
        state.pending = true;
        requestAnimationFrame(toBottom);
      }
    }
    function intent() { state.userAt = performance.now(); }
    ["wheel", "keydown", "pointerdown", "touchmove"].forEach(function (type) {
      outer.addEventListener(type, intent, {passive: true, capture: true});
    });
    outer.addEventListener("scroll", function () {
      // only a person's scrolling changes the mode; the content growing or our own scrolling does not
      if (performance.now() - state.userAt > USER_INTENT_MS) return;
      var now = atBottom();
      if (now !== state.following) { state.following = now; show(); }
    }, {passive: true});
    badge.addEventListener("click", function () { state.following = true; show(); schedule(); });
    var observer = new MutationObserver(schedule);  // new cells, new output
    observer.observe(inner, {childList: true, subtree: true, characterData: true});
    var resize = new ResizeObserver(schedule);  // cells measured once rendered, the panel resized
    resize.observe(inner);
    resize.observe(outer);
    panel.disposed.connect(function () { observer.disconnect(); resize.disconnect(); });
    show();
    panel.context.ready.then(schedule);
  }

  // ----- read-only trajectories ---------------------------------------------------------------

  var READ_ONLY = "This trajectory is read-only: nbdojo writes it as the agent works. Use File > Save "
    + "Notebook As... to keep an editable copy.";

  // Every change of the cell list made in this browser (insert, paste, drop, move by keys, menus or drag, cut)
  // goes through these three methods of the notebook's shared model; the env's new cells come from the server
  // as document updates, which do not. So refusing them here keeps the trajectory's cells as the env wrote them.
  function refuseCellChanges(app, panel) {
    var shared = panel.model && panel.model.sharedModel;
    if (!shared || shared.__nbdojoReadOnly) return;
    shared.__nbdojoReadOnly = true;
    var refuse = function () { notify(app, READ_ONLY); panel.model.dirty = false; };
    shared.insertCells = function () { refuse(); return []; };
    shared.moveCells = function () { refuse(); };
    shared.deleteCellRange = function () { refuse(); };
  }

  function keepReadOnly(app, panel) {
    var cells = panel.model && panel.model.cells;
    if (!cells) return;
    var remove = Object.getPrototypeOf(panel.model.sharedModel).deleteCellRange;
    refuseCellChanges(app, panel);
    cells.changed.connect(function (list, change) {
      if (change.type !== "add") return;
      var added = change.newValues.filter(function (cell) {
        return cell.getMetadata && cell.getMetadata("editable") !== false;   // the server's cells never are
      });
      if (!added.length) return;
      setTimeout(function () {
        var shared = panel.model.sharedModel;
        added.forEach(function (cell) {
          for (var i = 0; i < panel.model.cells.length; i++) {
            if (panel.model.cells.get(i) === cell) { remove.call(shared, i, i + 1); break; }
          }
        });
        panel.model.dirty = false;  // back to what the server holds: nothing to save
        notify(app, READ_ONLY);
      }, 0);
    });
  }

  // ----- agent kernels ------------------------------------------------------------------------

  function guardConnection(app, kernel) {
    if (!kernel || kernel.__nbdojoGuarded) return kernel;
    kernel.__nbdojoGuarded = true;
    kernel.restart = function () { return Promise.reject(new Error(refusal(app, "restart"))); };
    var interrupt = kernel.interrupt.bind(kernel);
    kernel.interrupt = function () {  // the server knows whether the run allows it; never a rejection
      return interrupt().then(function () {
        notify(app, "Interrupt sent to the agent's kernel: its run allows people to interrupt it.", "info");
      }, function (err) {
        if (err && err.message) notify(app, err.message); else refusal(app, "interrupt");
      });
    };
    kernel.shutdown = function () { refusal(app, "shut down"); return Promise.resolve(); };
    return kernel;
  }

  function guardSession(app, sessionContext) {
    if (!sessionContext || sessionContext.__nbdojoGuarded) return;
    sessionContext.__nbdojoGuarded = true;
    sessionContext.restartKernel = function () { return Promise.reject(new Error(refusal(app, "restart"))); };
    sessionContext.shutdown = function () { refusal(app, "shut down"); return Promise.resolve(); };
    var current = function () { guardConnection(app, sessionContext.session && sessionContext.session.kernel); };
    sessionContext.kernelChanged.connect(current);
    current();
  }

  function guardManagers(app) {
    var kernels = app.serviceManager.kernels, sessions = app.serviceManager.sessions;
    var connectTo = kernels.connectTo.bind(kernels);
    kernels.connectTo = function (options) { return guardConnection(app, connectTo(options)); };
    kernels.shutdown = function () { refusal(app, "shut down"); return Promise.resolve(); };
    kernels.shutdownAll = function () { refusal(app, "shut down"); return Promise.resolve(); };
    sessions.shutdown = function () { refusal(app, "shut down"); return Promise.resolve(); };
    sessions.shutdownAll = function () { refusal(app, "shut down"); return Promise.resolve(); };
  }

  // ----- wiring -------------------------------------------------------------------------------

  function adopt(app, widget) {
    if (!widget || widget.__nbdojoSeen) return;
    widget.__nbdojoSeen = true;
    if (widget.sessionContext) guardSession(app, widget.sessionContext);
    if (widget.content && widget.context && widget.toolbar && isTrajectory(widget)) {
      widget.context.ready.then(function () {
        if (widget.isDisposed) return;
        keepReadOnly(app, widget);
      });
      follow(app, widget);
    }
  }

  var plugin = {
    id: NAME + ":plugin",
    description: "nbdojo watch: follow live trajectories, keep them read-only, leave agent kernels to their episodes.",
    autoStart: true,
    requires: [],
    activate: function (app) {
      guardManagers(app);
      var scan = function () {
        var widgets = app.shell.widgets("main");
        for (var w of widgets) adopt(app, w);
      };
      if (app.shell.layoutModified) app.shell.layoutModified.connect(scan);
      if (app.shell.currentChanged) app.shell.currentChanged.connect(scan);
      app.restored.then(scan);
      scan();
    }
  };

  var container = {
    init: function () { return Promise.resolve(); },
    get: function (module) {
      if (module === "./extension") {
        return Promise.resolve(function () { return {__esModule: true, default: [plugin]}; });
      }
      return Promise.reject(new Error('Module "' + module + '" does not exist in container.'));
    }
  };
  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[NAME] = container;
})();
