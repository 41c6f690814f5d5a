namespace HierDiff.Report;

/// <summary>The report page's one stylesheet and one script, inline so the page needs nothing else.</summary>
internal static class ReportAssets
{
    public const string Style = """

        body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
        table.summary { border-collapse: collapse; margin-bottom: 1em; }
        table.summary th { text-align: left; padding: 2px 1em 2px 0; color: #555; font-weight: normal; }
        .legend { color: #555; max-width: 60em; }
        details.node { margin-left: 1.2em; border-left: 1px solid #ddd; padding-left: 0.4em; }
        #tree > details.node { margin-left: 0; }
        summary { cursor: pointer; padding: 1px 0; }
        .leaf { margin-left: 1.2em; display: flex; align-items: center; gap: 0.5em; min-height: 68px; }
        .thumb { display: inline-block; width: 64px; height: 64px; background: #eee; vertical-align: middle; flex: none; }
        summary .thumb { width: 32px; height: 32px; margin-right: 0.4em; }
        .thumb img { width: 100%; height: 100%; image-rendering: pixelated; display: block; }
        .idx { color: #888; font-variant-numeric: tabular-nums; }
        .meta { color: #666; font-size: 12px; }

        """;

    /// <summary>
    /// Creates an image only when its line is on view (every &lt;details&gt; above it open). With #selftest in the
    /// address it opens everything, waits for the images, and writes into &lt;body&gt; what a test reads from the DOM:
    /// data-images="loaded/total", data-thumbs (image places on the page) and data-errors (script errors).
    /// </summary>
    public const string Script = """

        "use strict";
        const errors = [];
        window.addEventListener("error", e => { errors.push(String(e.message)); document.body.dataset.errors = errors.join(" | "); });
        const images = JSON.parse(document.getElementById("images").textContent);

        // On view when no closed <details> hides it (a closed node still shows its own <summary>).
        function onView(el) {
          for (let d = el.closest("details"); d; d = d.parentElement.closest("details")) {
            if (!d.open && !d.firstElementChild.contains(el)) return false;
          }
          return true;
        }

        function fill(root) {
          for (const thumb of root.querySelectorAll(".thumb:empty")) {
            if (!onView(thumb)) continue;
            const img = document.createElement("img");
            img.alt = "image " + thumb.dataset.img;
            img.src = images[thumb.dataset.img];
            thumb.appendChild(img);
          }
        }

        function openAll(open) {
          for (const d of document.querySelectorAll("details.node")) d.open = open;
          if (open) fill(document.body);
        }

        // "toggle" does not bubble, but a capturing listener on the document sees every one.
        document.addEventListener("toggle", e => { if (e.target.open) fill(e.target); }, true);
        document.getElementById("expand").addEventListener("click", () => openAll(true));
        document.getElementById("collapse").addEventListener("click", () => openAll(false));
        fill(document.body);

        if (location.hash === "#selftest") {
          openAll(true);
          const all = Array.from(document.querySelectorAll(".thumb img"));
          Promise.all(all.map(img => img.decode().catch(() => {}))).then(() => {
            const body = document.body.dataset;
            body.thumbs = String(document.querySelectorAll(".thumb").length);
            body.images = all.filter(img => img.complete && img.naturalWidth > 0).length + "/" + all.length;
            body.errors = errors.join(" | ");
            body.selftest = "done";
          });
        }

        """;
}
