"""Figures (tfnas.plots) and ``tfnas plot``."""

import numpy as np
import pytest
from conftest import DATASETS
from PIL import Image
from scipy import stats

from db.read import read_scores
from tfnas.cli import main
from tfnas.replay.correlations import neg_inf_lowest
from tfnas.replay.files import save_figure
from tfnas.replay.plots import score_accuracy_figure, search_curves, search_figure
from tfnas.replay.search import ScoreTable


@pytest.fixture(scope="module")
def full_db(score_db):
    return score_db()


@pytest.fixture(scope="module")
def scores(full_db):
    return read_scores(full_db).frames


def test_score_accuracy_figure_titles_carry_spearman_and_counts(scores, tmp_path):
    figure = score_accuracy_figure(scores, "naswot")
    axes = figure.get_axes()
    assert [ax.get_title().split(":")[0] for ax in axes] == list(DATASETS)
    for ax, frame in zip(axes, scores.values(), strict=True):
        rho = stats.spearmanr(neg_inf_lowest(frame["naswot"].to_numpy()),
                              frame["test_acc_12ep"]).statistic
        assert ax.get_title().endswith(f"ρ = {rho:.3f}, n = 15,625")
        assert len(ax.collections[0].get_offsets()) == 15625 - 1  # the −inf arch is not drawn
        assert "1 at −inf not shown" in ax.get_xlabel()
    assert " ".join(figure._suptitle.get_text().split()) == (
        "naswot score vs test accuracy after 12 epochs (15,625 architectures per dataset)")
    assert axes[0].get_ylabel() == "test accuracy after 12 epochs (%)"
    assert axes[0].get_xscale() == "linear"  # naswot's stand-in does not span decades
    path = save_figure(figure, tmp_path / "fig3.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1584, 504)
        pixels = np.asarray(image.convert("L"))
    assert (pixels < 128).mean() > 0.01  # points and text were drawn


def test_search_curves_compare_random_search_and_evolution(scores):
    lookup = ScoreTable.from_frame(scores["cifar10"], "naswot")
    curves = search_curves(lookup, runs=20, budgets=(10, 100, 300))
    random = curves[curves["search"] == "random search"]
    rea = curves[curves["search"] == "regularized evolution"]
    assert list(random["budget"]) == [10, 100, 300] and list(rea["budget"]) == [100, 300]
    assert random["time_mean_s"].is_monotonic_increasing
    assert random["accuracy_mean"].iloc[-1] > random["accuracy_mean"].iloc[0]
    assert (curves["runs"] == 20).all()
    # REA caches revisited archs, so at equal budget it spends at most random search's time
    assert (rea["time_mean_s"].to_numpy() <= random["time_mean_s"].iloc[1:].to_numpy()).all()
    figure = search_figure({("naswot", "cifar10"): curves, ("naswot", "cifar100"): curves})
    assert len(figure.get_axes()) == 2
    assert [t.get_text() for t in figure.legends[0].get_texts()] == [
        "random search", "regularized evolution"]
    # a proxy scored on fewer datasets has no empty panel: its row ends early; NATS-Bench order
    figure = search_figure({("naswot", "ImageNet16-120"): curves, ("synflow", "cifar10"): curves,
                            ("synflow", "ImageNet16-120"): curves}, "valid_acc_200ep")
    assert [ax.get_title() for ax in figure.get_axes()] == [
        "ImageNet16-120, naswot", "cifar10, synflow", "ImageNet16-120, synflow"]
    assert all(ax.axison and ax.lines for ax in figure.get_axes())
    assert figure.get_axes()[0].get_ylabel() == ("validation accuracy after 200 epochs of the "
                                                 "chosen arch (%)")
    # a budget's label sits right of its point, clear of the point's vertical error bar
    label = figure.get_axes()[0].texts[-1]
    assert label.get_text() == "300" and label.get_ha() == "left" and label.xyann[0] > 0


def test_a_score_spanning_decades_gets_a_log_axis(scores):
    """MeCo-like positive scores over four decades: a linear axis put most points at 0."""
    frame = scores["cifar10"].copy()
    frame["params"] = np.exp(np.linspace(0, 10, len(frame)))
    figure = score_accuracy_figure({"cifar10": frame}, "params")
    ax = figure.get_axes()[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "params score (log scale)"
    assert _text_problems(figure) == []


def test_search_curves_leave_out_evolution_on_a_partial_space(scores):
    part = scores["cifar10"].iloc[::3]
    curves = search_curves(ScoreTable.from_frame(part, "params"), runs=5, budgets=(10, 100))
    assert set(curves["search"]) == {"random search"}
    tiny = search_curves(ScoreTable.from_frame(part.head(8), "params"), runs=5)
    assert tiny.empty and "accuracy_mean" in tiny.columns  # no budget fits 8 archs


def test_cli_writes_every_figure(full_db, tmp_path, capsys):
    assert main(["plot", "--db", str(full_db), "--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["fig3_flops.png", "fig3_naswot.png", "fig3_params.png",
                       "fig3_synflow.png", "search_time.png"]
    with Image.open(tmp_path / "search_time.png") as image:
        assert image.size[1] > 4 * 300  # one row of panels per proxy
    assert capsys.readouterr().err.count("note: wrote") == 5
    only = tmp_path / "one"
    assert main(["plot", "--db", str(full_db), "--out", str(only), "--proxies", "params",
                 "--dataset", "cifar100", "--runs", "7"]) == 0
    figure3 = only / "fig3_params.png"
    with Image.open(figure3) as image:  # one panel: the one dataset asked for
        assert image.size[0] < 600


def test_cli_rejects_an_unknown_accuracy(full_db, tmp_path, capsys):
    assert main(["plot", "--db", str(full_db), "--out", str(tmp_path), "--accuracy", "x"]) == 2
    assert capsys.readouterr().err == ("tfnas: error: --accuracy: unknown accuracy column 'x'; "
                                       "choose from "
                                       "test_acc_12ep, test_acc_200ep, valid_acc_12ep, "
                                       "valid_acc_200ep\n")


def _drawn_tick_labels(axis) -> list:
    """The tick labels matplotlib draws: visible, non-empty, their tick inside the view."""
    low, high = sorted(axis.get_view_interval())
    return [label for label, tick in zip(axis.get_ticklabels(), axis.get_ticklocs(),
                                         strict=False)
            if label.get_visible() and label.get_text() and low <= tick <= high]


def _text_problems(figure) -> list[str]:
    """Drawn texts outside the canvas and overlapping tick labels, measured on the rendered
    figure (Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    width, height = canvas.get_width_height()
    ticks = {id(t) for ax in figure.axes for axis in (ax.xaxis, ax.yaxis)
             for t in axis.get_ticklabels()}
    drawn = [t for ax in figure.axes if ax.get_visible() for axis in (ax.xaxis, ax.yaxis)
             for t in _drawn_tick_labels(axis)]
    drawn += [t for t in figure.findobj(Text) if id(t) not in ticks and t.get_visible()
              and t.get_text().strip() and (t.axes is None or t.axes.get_visible())]
    problems = []
    for text in drawn:
        box = text.get_window_extent(renderer)
        if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5 or box.y1 > height + 0.5:
            problems.append(f"{text.get_text()!r} outside the canvas: {box}")
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = _drawn_tick_labels(axis) if ax.get_visible() else []
            boxes = [t.get_window_extent(renderer) for t in labels]
            for i in range(len(boxes)):
                for j in range(i + 1, len(boxes)):
                    if boxes[i].overlaps(boxes[j]):
                        problems.append(f"tick labels {labels[i].get_text()!r} and "
                                        f"{labels[j].get_text()!r} overlap")
    return problems


@pytest.mark.parametrize("count", [1, 2, 3])
def test_figures_read_at_any_number_of_panels(scores, count):
    """No clipped title or label, no overlapping tick labels, for 1, 2 and 3 datasets (the
    titles were cut off at both edges with one dataset; log ticks ran into each other)."""
    chosen = dict(list(scores.items())[:count])
    assert _text_problems(score_accuracy_figure(chosen, "synflow")) == []
    curves = {(proxy, dataset): search_curves(ScoreTable.from_frame(frame, proxy), runs=5,
                                              budgets=(10, 100, 1000))
              for dataset, frame in chosen.items() for proxy in ("naswot", "params")}
    assert _text_problems(search_figure(curves, "test_acc_12ep")) == []


def test_the_overlap_check_catches_what_it_should(scores):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 2))
    ax = figure.subplots()
    ax.set_title("a title far too long to fit in a figure two inches wide, clipped at both ends")
    ax.set_xticks([0, 0.01], ["first label", "second label"])
    problems = _text_problems(figure)
    assert any("outside the canvas" in p for p in problems)
    assert any("overlap" in p for p in problems)

