"""Figures: learning curves with phases shaded, goodness per layer, phase-length ablations.

Figures are drawn on matplotlib Figure objects, never through pyplot, so importing charff leaves
a notebook's backend alone.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from charff.analysis.crossing import by_setting, phase_lines, setting_names, twin_row
from charff.config import READOUTS
from charff.schedule import Phase

# the sweep figure's panels: FF's own readout first, then the softmax probe on FF's features
PANELS = (("goodness_auc_common", "common goodness AUC (the fork's yardstick; verdicts use it)"),
          ("product_bpc", "validation bits/char (product readout; verdicts use it)"),
          ("goodness_acc", "validation accuracy (goodness readout)"),
          ("goodness_auc", "goodness AUC, real vs own negative windows"),
          ("softmax_acc", "validation accuracy (softmax readout)"),
          ("softmax_bpc", "validation bits/char (softmax readout)"))
# yardstick lines, each its own style and labelled on the line: the unigram, the bigram, the best
# order of the Kneser-Ney table (the order the tables name), chance for AUC
NGRAM_STYLES = {"1-gram": ("silver", "-"), "2-gram": ("gray", ":"), "best": ("dimgray", "--")}
CHANCE_STYLE = ("tab:brown", (0, (1, 3)))
YARDSTICK_WORDS = ("yardstick", "chance", "frozen random")
LINE_STYLES = ("-", "--", "-.", ":")  # with the markers, arms that coincide stay visible
MARKERS = "os^Dv<>ph*"


def save(fig: Figure, title: str, path: Path) -> Path:
    """Title and save; figures made with layout="constrained" keep their outside legends in view."""
    fig.suptitle(title)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def legend_entries(axes) -> dict:
    """label -> handle over every panel, each label once, in the order first drawn: what one
    legend for a whole figure shows."""
    entries = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    return entries


def legend_outside(fig: Figure, axes, loc: str = "outside right upper") -> None:
    """One legend for the figure, right of the axes, each label once, yardsticks last: it never
    covers data (loc "outside right center" keeps a wide legend clear of a long title)."""
    entries = legend_entries(axes)
    order = sorted(entries, key=lambda label: any(word in label for word in YARDSTICK_WORDS))
    fig.legend([entries[label] for label in order], order, loc=loc, fontsize=8)


def labelled_line(ax, level: float, text: str, colour: str, style, lw: float = 1.2) -> None:
    """A horizontal yardstick with its name written on it at the right end, and in the legend."""
    ax.axhline(level, color=colour, ls=style, lw=lw, label=text)
    ax.annotate(text.removesuffix(" yardstick"), xy=(1.0, level), xycoords=("axes fraction", "data"),
                xytext=(-3, 2), textcoords="offset points", ha="right", va="bottom", fontsize=7, color=colour)


def yardsticks(ax, key: str, ngram: dict, frozen: float | None = None) -> None:
    """The lines a curve of `key` (acc, bpc or auc) must clear: the unigram, the bigram and the best
    order of the n-gram table, chance for AUC, and the final value of a frozen-random arm."""
    if key == "auc":
        labelled_line(ax, 0.5, "chance (AUC 0.5)", *CHANCE_STYLE)
    if key in ("acc", "bpc") and ngram:
        # the best order of a whole table (a caller may pass only the low orders: no best then)
        best = min(ngram, key=lambda order: ngram[order]["bpc"]) if len(ngram) > 2 else None
        for order in (o for o in dict.fromkeys(("1-gram", "2-gram", best)) if o in ngram):
            colour, style = NGRAM_STYLES.get(order, NGRAM_STYLES["best"])
            name = f"{order} (best order)" if order == best else order
            labelled_line(ax, ngram[order][key], f"Kneser-Ney {name} yardstick", colour, style)
    if frozen is not None:
        labelled_line(ax, frozen, "frozen random layers (final)", "black", (0, (5, 2, 1, 2)), lw=1)


def shade_sleep(ax, phases: list[Phase], label: str) -> None:
    """Shade sleep phases, and wake-only phases too when the schedule also has other kinds."""
    start, labels = 0, {"sleep": label, "wake": "wake-only phases"}
    mixed = len({p.kind for p in phases}) > 1
    for phase in phases:
        if phase.sleep_only or (phase.wake_only and mixed):
            colour = "tab:purple" if phase.sleep_only else "tab:orange"
            ax.axvspan(start, start + phase.chars, color=colour, alpha=0.15, lw=0, label=labels[phase.kind])
            labels[phase.kind] = None  # one legend entry each
        start += phase.chars


def plot_curves(curves: dict[str, dict], phases: list[Phase], ngram: dict, title: str, path: Path,
                frozen_arms: tuple[str, ...] = ()) -> Path:
    """curves: arm -> {"chars": [...], metric: (means, halfwidths)}; one line per arm with its 95%
    band, on the panels of PANELS that some arm has; frozen_arms: yardstick arms drawn as lines."""
    panels = [(m, label) for m, label in PANELS if any(m in c for c in curves.values())]
    frozen = {m: curves[a][m][0][-1] for a in frozen_arms for m, _ in panels if m in curves[a]}
    fig = Figure(figsize=(16, 4.4 * ((len(panels) + 1) // 2)), layout="constrained")
    axes = fig.subplots((len(panels) + 1) // 2, 2, squeeze=False).ravel()
    for ax, (metric, ylabel) in zip(axes, panels, strict=False):
        shade_sleep(ax, phases, "sleep phases (separated arms)")
        for n, (arm, curve) in enumerate(curves.items()):
            if metric not in curve or arm in frozen_arms:
                continue
            means, halves = curve[metric]
            # markers of falling size, every other one hollow: arms that lie on each other stay visible
            # past ten arms the colours repeat: the marker moves on, so no two arms look alike
            line, = ax.plot(curve["chars"], means, marker=MARKERS[(n + n // 10) % len(MARKERS)], ms=7 - 0.5 * (n % 6),
                            mfc="none" if n % 2 else None, ls=LINE_STYLES[n % len(LINE_STYLES)], label=arm)
            if any(halves):  # one seed has no interval: no band
                lower = [m - h for m, h in zip(means, halves, strict=True)]
                upper = [m + h for m, h in zip(means, halves, strict=True)]
                ax.fill_between(curve["chars"], lower, upper, color=line.get_color(), alpha=0.15, lw=0)
        yardsticks(ax, "auc" if "auc" in metric else metric.rsplit("_", 1)[1], ngram, frozen.get(metric))
        ax.set_xlabel("characters seen (streams x steps)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    legend_outside(fig, axes)
    return save(fig, title, path)


def mark_onset(ax, onset: int | None) -> None:
    if onset is not None:
        ax.axvline(onset, color="red", ls="--", lw=1.2, label="collapse onset")


def plot_run(evals: list[dict], phases: list[Phase], title: str, folder: Path,
             onset: int | None = None, ngram: dict | None = None) -> list[Path]:
    """A run's learning curves (every readout, phases shaded) and per-layer goodness of real
    validation windows and of the configured negatives, with the collapse onset marked when there is one."""
    chars = [r["chars"] for r in evals]
    fig = Figure(figsize=(15, 5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (metric, ylabel) in zip(axes, (("acc", "validation accuracy"), ("bpc", "validation bits/char")),
                                    strict=True):
        shade_sleep(ax, phases, "sleep phases")
        mark_onset(ax, onset)
        for readout in (r for r in READOUTS if f"{r}_{metric}" in evals[0]):
            ax.plot(chars, [r[f"{readout}_{metric}"] for r in evals], marker="o", ms=3, label=f"{readout} readout")
        yardsticks(ax, metric, ngram or {})
        ax.set_xlabel("characters seen")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    legend_outside(fig, axes)
    curves = save(fig, title, folder / "learning_curves.png")

    layers = sorted(int(k.split("/")[1]) for k in evals[0] if k.startswith("good_real/"))
    fig = Figure(figsize=(10, 5.5), layout="constrained")
    ax = fig.subplots()
    shade_sleep(ax, phases, "sleep phases")
    mark_onset(ax, onset)
    for i in layers:
        line, = ax.plot(chars, [r[f"good_real/{i}"] for r in evals], label=f"layer {i + 1} real")
        ax.plot(chars, [r[f"good_fake/{i}"] for r in evals], ls="--", color=line.get_color(),
                label=f"layer {i + 1} fake")
    ax.set_xlabel("characters seen")
    ax.set_ylabel("mean goodness on validation windows")
    ax.set_ylim(bottom=0)  # a linear axis from zero: a layer whose units died falls to 0 and stays in view
    ax.grid(alpha=0.3)
    legend_outside(fig, [ax])
    ax.set_title(f"{title}\ngoodness per layer (fake = the configured negatives)", fontsize=10)
    goodness = folder / "goodness.png"
    fig.savefig(goodness, dpi=120)
    paths = [curves, goodness]
    if any(r.get("one_sided_ratio") is not None for r in evals):
        paths.append(plot_instruments(evals, phases, title, folder / "instruments.png"))
    return paths


def plot_instruments(evals: list[dict], phases: list[Phase], title: str, path: Path) -> Path:
    """The law's instruments per layer: the one-sided ratio and the gradient noise scale (log axes)."""
    layers = sorted(int(k.split("/")[1]) for k in evals[0] if k.startswith("one_sided_ratio/"))
    fig = Figure(figsize=(14, 5))
    axes = fig.subplots(1, 2)
    panels = (("one_sided_ratio", "one-sided ratio |G_wake| / |G_wake + G_sleep|"),
              ("noise_scale", "gradient noise scale B_simple (characters)"))
    for ax, (key, ylabel) in zip(axes, panels, strict=True):
        shade_sleep(ax, phases, "sleep phases")
        for suffix, label in [(f"/{i}", f"layer {i + 1}") for i in layers] + [("", "all layers")]:
            points = [(r["chars"], r[key + suffix]) for r in evals if (r.get(key + suffix) or 0) > 0]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", ms=3, label=label, lw=2.2 if not suffix else 1.2)
        ax.set_yscale("log")
        ax.set_xlabel("characters seen")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return save(fig, f"{title}: gradient instruments (where |G|^2 came out negative, no point)", path)


def plot_phase_lengths(rows: list[dict], settings: dict[str, tuple], folder: Path, ngram: dict | None = None) -> Path:
    """Final accuracy and bits/char against wake-phase length (log axis), one line per setting
    (settings: cell -> results.setting_without_schedule) and sleep/wake ratio; the interleaved
    twin of the same setting as a reference band; collapsed cells marked; the unigram and bigram
    yardsticks, the levels a phase length falls to."""
    low_orders = {order: v for order, v in (ngram or {}).items() if order in ("1-gram", "2-gram")}
    groups = by_setting(rows, settings)
    names = setting_names(list(groups))
    fig = Figure(figsize=(16, 5.5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (metric, ylabel, key) in zip(axes, (("final_softmax_acc", "final validation accuracy", "acc"),
                                                ("final_softmax_bpc", "final validation bits/char", "bpc")),
                                         strict=True):
        for setting, group in groups.items():
            lines = phase_lines(group)
            colour = None  # the setting's first line's, shared by its twin's band
            for ratio, separated in lines.items():
                xs = [r["wake_chars"] for r in separated]
                label = names[setting] + (f", sleep = {ratio:g} x wake" if ratio != 1.0 else "")
                line, = ax.plot(xs, [r[metric] for r in separated], marker="o", label=label)
                colour = colour or line.get_color()
                ax.errorbar(xs, [r[metric] for r in separated], yerr=[r[metric + "_ci95"] for r in separated],
                            fmt="none", ecolor=line.get_color(), capsize=3)
                for r, x in zip(separated, xs, strict=True):
                    if r["collapsed_seeds"]:
                        ax.plot([x], [r[metric]], marker="X", ms=12, color="red", ls="none")
            # the band: the interleaved twin that updates as often as the separated rows
            twin = twin_row(group, next(iter(lines.values()))[0]["chars_per_update"]) if lines else None
            if twin is not None:
                m, h = twin[metric], max(twin[metric + "_ci95"], 1e-4)
                ax.axhspan(m - h, m + h, color=colour, alpha=0.15)
                ax.axhline(m, color=colour, ls="--", lw=1)
        yardsticks(ax, key, low_orders)
        means = [r[metric] for r in rows] + [v[key] for v in low_orders.values()]
        pad = 0.15 * (max(means) - min(means) or 1.0)
        ax.set_ylim(min(means) - pad, max(means) + pad)  # 2-seed t intervals would dwarf the data
        ax.plot([], [], marker="X", color="red", ls="none", ms=10, label="collapsed (any seed)")
        ax.plot([], [], color="gray", ls="--", label="interleaved (band: 95% interval)")
        ax.set_xscale("log")
        ax.set_xlabel("wake phase length, characters (log)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
    legend_outside(fig, axes, "outside right center")
    return save(fig, "phase-length ablation: separated wake/sleep vs interleaved "
                     "(bars and bands: 95% interval over seeds)", folder / "phase_length.png")


def plot_crossing(entries: list[dict], folder: Path) -> Path:
    """The crossing phase length against the momentum horizon, on log axes, in updates and in
    characters: a bar spans the longest phase that held to the shortest that did not; a
    triangle marks a crossing beyond the longest phase tried (up) or below the shortest (down)."""
    fig = Figure(figsize=(13, 5.2))
    axes = fig.subplots(1, 2)
    for ax, unit in zip(axes, ("updates", "chars"), strict=True):
        for per_update in sorted({e["chars_per_update"] for e in entries}):
            group = [e for e in entries if e["chars_per_update"] == per_update]
            colour = None
            scale = per_update if unit == "updates" else 1
            for e in group:
                x = e[f"horizon_{unit}"]
                low, high = e[f"held_up_to_{unit}"], e[f"failed_from_{unit}"]
                # an open end is drawn from the shortest phase / 2, or up to the longest, with a triangle
                lo = low or min(e["lengths"]) / scale / 2
                hi = high or max(e["lengths"]) / scale
                line, = ax.plot([x, x], [lo, hi], lw=6, alpha=0.5, color=colour,
                                label=None if colour else f"{per_update:,} chars/update")
                colour = line.get_color()
                if high is None:
                    ax.plot([x], [hi], marker="^", ms=10, color=colour)
                if low is None:
                    ax.plot([x], [lo], marker="v", ms=10, color=colour)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"momentum horizon, {unit} (log)")
        ax.set_ylabel(f"crossing wake-phase length, {unit} (log)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return save(fig, "where separated phases stop keeping up with interleaved (goodness readout within 2 points "
                     "and AUC within 0.02)", folder / "crossing.png")
