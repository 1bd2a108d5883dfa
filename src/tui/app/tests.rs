//! Keys drive the state; every tab, the help overlay and the too-small message are snapshots of
//! the sample state at two terminal sizes.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::*;
use crate::cli::args::ArchArg;
use crate::engine::kandinsky::settings::KandinskySettings;
use crate::engine::steer::{ImageRef, Method};
use crate::protocol::{JobKind, StepLine};
use crate::tui::data::{ExplainQuery, GenerationView};
use crate::tui::sample::sample_app;
use crate::tui::tabs::explain::{self, ExplainTab, Mode};
use crate::tui::tabs::latents::{self, LatentsTab};
use crate::tui::tabs::metrics::{MetricsTab, METRIC_COLUMNS};
use crate::tui::tabs::steer::{self, SteerTab, STRENGTH_STEP};
use crate::tui::tabs::train::TrainTab;
use crate::tui::tabs::zeroshot;
use crate::tui::view;
use crate::tui::widgets::NoCollages;

fn press(app: &mut App, keys: &str) -> Vec<Action> {
    keys.chars()
        .flat_map(|c| app.on_key(KeyEvent::from(KeyCode::Char(c))))
        .collect()
}

fn code(app: &mut App, code: KeyCode) -> Vec<Action> {
    app.on_key(KeyEvent::from(code))
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(f, app, &mut NoCollages)).unwrap();
    t.backend().to_string()
}

fn steer_tab(app: &App) -> &SteerTab {
    app.get::<SteerTab>().unwrap()
}

fn latents_tab(app: &App) -> &LatentsTab {
    app.get::<LatentsTab>().unwrap()
}

#[test]
fn number_keys_tab_and_backtab_switch_tabs() {
    let mut app = sample_app();
    press(&mut app, "2");
    assert_eq!(app.tab().title(), "Metrics");
    code(&mut app, KeyCode::Tab);
    assert_eq!(app.tab().id(), zeroshot::ID);
    code(&mut app, KeyCode::BackTab);
    code(&mut app, KeyCode::BackTab);
    code(&mut app, KeyCode::BackTab);
    assert_eq!(app.tab().id(), explain::ID, "Shift-Tab wraps around");
}

#[test]
fn quitting_asks_first_while_a_run_trains() {
    let mut app = sample_app();
    assert!(press(&mut app, "q").is_empty());
    assert!(app.confirm_quit && !app.quit);
    press(&mut app, "n");
    assert!(!app.confirm_quit && !app.quit);
    press(&mut app, "q");
    assert_eq!(press(&mut app, "y"), [Action::Quit]);
    let mut idle = App::new(Theme::default(), "ws".into(), "cpu".into());
    assert_eq!(
        idle.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        [Action::Quit]
    );
}

#[test]
fn the_sweep_form_is_edited_and_started() {
    let mut app = sample_app();
    press(&mut app, "jj");
    press(&mut app, "e");
    assert_eq!(app.lab.typing.as_ref().unwrap().prompt, "epochs: ");
    code(&mut app, KeyCode::Backspace);
    press(&mut app, "1");
    code(&mut app, KeyCode::Enter);
    assert!(app.lab.typing.is_none());
    assert_eq!(app.get::<TrainTab>().unwrap().form.epochs, "1");
    let actions = press(&mut app, "s");
    assert!(
        matches!(&actions[..], [Action::StartJob(JobKind::Sweep(a))]
            if a.opts.epochs == 1 && a.data == "demo" && a.lambdas == [1e-3, 1e-2, 3e-2]
                && a.ks.is_empty() && a.opts.arch == ArchArg::Relu && a.opts.lr.is_none()),
        "{actions:?}"
    );
    // The live run (the third) can be stopped; a finished one cannot.
    press(&mut app, "]]");
    assert_eq!(press(&mut app, "x"), [Action::Stop("demo-lam3e-2".into())]);
    press(&mut app, "[");
    assert!(press(&mut app, "x").is_empty());
}

#[test]
fn a_bad_sweep_form_is_named_and_starts_nothing() {
    let mut app = sample_app();
    press(&mut app, "jjjjjje");
    for _ in 0..10 {
        code(&mut app, KeyCode::Backspace);
    }
    press(&mut app, "topk");
    code(&mut app, KeyCode::Enter);
    let actions = press(&mut app, "s");
    assert!(
        matches!(&actions[..], [Action::StartJob(JobKind::Sweep(a))]
            if a.opts.arch == ArchArg::Topk && a.ks == [16, 32, 64]),
        "{actions:?}"
    );
    press(&mut app, "ke");
    press(&mut app, "x");
    code(&mut app, KeyCode::Enter);
    // Refused as it is entered (issue 16, case 15): the field keeps "auto".
    let message = app.lab.message.clone().unwrap();
    assert!(message.contains("lr: 'autox'"), "{message}");
    assert_eq!(app.get::<TrainTab>().unwrap().form.lr, "auto");
}

#[test]
fn metrics_sort_by_any_column_and_mark_runs() {
    let mut app = sample_app();
    press(&mut app, "2");
    press(&mut app, "llll");
    let tab = app.get::<MetricsTab>().unwrap();
    assert_eq!(METRIC_COLUMNS[tab.sort_column], "R²");
    let names: Vec<_> = tab
        .sorted_runs(&app.lab.runs)
        .iter()
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(
        names[0], "demo-lam1e-2",
        "lowest R² first, the unfinished run last"
    );
    press(&mut app, "s");
    let tab = app.get::<MetricsTab>().unwrap();
    assert_eq!(tab.sorted_runs(&app.lab.runs)[0].name, "demo-lam3e-2");
    press(&mut app, " ");
    assert_eq!(app.get::<MetricsTab>().unwrap().compare, ["demo-lam3e-2"]);
}

#[test]
fn latents_search_sort_jump_and_steer() {
    let mut app = sample_app();
    app.lab.latents = None;
    let actions = press(&mut app, "4");
    assert_eq!(app.tab().id(), latents::ID);
    assert!(
        matches!(&actions[..], [Action::LoadLatents(r)] if r == "demo-lam1e-3"),
        "{actions:?}"
    );
    app.lab.latents_loading = false;
    app.lab.latents = sample_app().lab.latents;
    let actions = press(&mut app, "j");
    assert_eq!(
        actions,
        [Action::LoadCollage {
            run: "demo-lam1e-3".into(),
            latent: 1
        }]
    );
    press(&mut app, "/star");
    assert_eq!(
        latents_tab(&app).rows(&app.lab).len(),
        14,
        "labels naming star"
    );
    code(&mut app, KeyCode::Enter);
    assert_eq!(latents_tab(&app).query, "star");
    code(&mut app, KeyCode::Esc);
    assert_eq!(latents_tab(&app).query, "", "Esc clears the search");
    press(&mut app, "#");
    press(&mut app, "17");
    code(&mut app, KeyCode::Enter);
    assert_eq!(latents_tab(&app).selected(&app.lab), Some(17));
    code(&mut app, KeyCode::End);
    assert_eq!(latents_tab(&app).selected(&app.lab), Some(39));
    code(&mut app, KeyCode::Home);
    assert_eq!(latents_tab(&app).selected(&app.lab), Some(0));
    press(&mut app, "#");
    press(&mut app, "x");
    code(&mut app, KeyCode::Enter);
    assert_eq!(app.lab.message.as_deref(), Some("'x' is not a latent id"));
    press(&mut app, "#17");
    code(&mut app, KeyCode::Enter);
    let actions = press(&mut app, "t");
    assert_eq!(app.tab().id(), steer::ID);
    assert!(
        matches!(&actions[..], [Action::Steer(r)] if r.edits == [(17, 2.0)]),
        "{actions:?}"
    );
}

#[test]
fn steering_keys_move_strength_stack_and_reset() {
    let mut app = sample_app();
    press(&mut app, "5");
    let tab = app.get_mut::<SteerTab>().unwrap();
    tab.latent = Some(4);
    tab.strength = 0.0;
    code(&mut app, KeyCode::Right);
    let actions = code(&mut app, KeyCode::Right);
    assert!(matches!(&actions[..], [Action::Steer(r)] if r.edits == [(4, 2.0 * STRENGTH_STEP)]));
    code(&mut app, KeyCode::Enter);
    assert_eq!(steer_tab(&app).stack, [(4, 1.0)]);
    let actions = press(&mut app, "m");
    assert!(matches!(&actions[..], [Action::Steer(r)] if r.method == Method::Add));
    press(&mut app, "i");
    press(&mut app, "42");
    code(&mut app, KeyCode::Enter);
    assert_eq!(steer_tab(&app).image, ImageRef::Row(42));
    press(&mut app, "r");
    assert!(steer_tab(&app).stack.is_empty());
}

#[test]
fn a_picture_path_can_be_typed_in_place_of_an_image_id() {
    let mut app = sample_app();
    press(&mut app, "5");
    press(&mut app, "i");
    press(&mut app, "/data/quiet cat.jpg");
    let actions = code(&mut app, KeyCode::Enter);
    let file = ImageRef::File("/data/quiet cat.jpg".into());
    assert!(matches!(&actions[..], [Action::Steer(r)] if r.image == file));
    assert_eq!(steer_tab(&app).image, file);
    code(&mut app, KeyCode::Down);
    assert_eq!(
        steer_tab(&app).image,
        ImageRef::Row(0),
        "arrows go back to the set's rows"
    );
}

#[test]
fn a_failed_preview_is_shown_and_clears_the_old_one() {
    let mut app = sample_app();
    press(&mut app, "5");
    app.on_notice(&Notice::Steered(Err("no picture at /x.png".into())));
    assert!(steer_tab(&app).view.is_none());
    assert_eq!(app.lab.message.as_deref(), Some("no picture at /x.png"));
    assert!(screen(&app, 100, 30).contains("no picture at /x.png"));
}

#[test]
fn g_asks_for_a_triptych_once_kandinsky_is_set_up() {
    let mut app = sample_app();
    press(&mut app, "5");
    assert!(press(&mut app, "g").is_empty());
    assert!(app
        .lab
        .message
        .as_deref()
        .unwrap()
        .contains("kandinsky.toml"));
    app.lab.kandinsky = Some(KandinskySettings {
        decoder: "kandinsky-community/kandinsky-2-2-decoder".into(),
        prior: "kandinsky-community/kandinsky-2-2-prior".into(),
        steps: 50,
        size: 512,
    });
    app.get_mut::<SteerTab>().unwrap().strength = -3.0;
    let actions = press(&mut app, "g");
    assert!(
        matches!(&actions[..], [Action::Generate(r)] if r.latent == 3 && r.strength == 3.0 && r.image == ImageRef::Row(0)),
        "{actions:?}"
    );
    app.get_mut::<SteerTab>().unwrap().latent = None;
    assert!(press(&mut app, "g").is_empty());
}

#[test]
fn a_triptych_in_progress_shows_its_step_gauge() {
    let mut app = sample_app();
    app.focus(steer::ID);
    let run = app.lab.explored_run().unwrap().name.clone();
    app.lab.generation = Some(GenerationView {
        run,
        latent: 3,
        strength: 2.0,
        dir: "/ws/runs/r/generated/lab-1".into(),
        step: Some(StepLine {
            done: 61,
            total: 150,
            panel: "plus".into(),
        }),
        ready: false,
    });
    let shown = screen(&app, 100, 30);
    assert!(shown.contains("generating plus: step 61/150"), "{shown}");
    insta::assert_snapshot!("steer_generating_100x30", shown);
    app.lab.generation.as_mut().unwrap().ready = true;
    let done = screen(&app, 100, 30);
    assert!(
        done.contains("/ws/runs/r/generated/lab-1") && done.contains("minus.png"),
        "{done}"
    );
}

#[test]
fn clicking_a_tab_switches_to_it() {
    let mut app = sample_app();
    let spans = view::tab_spans(&app);
    let click = |col| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: col,
        row: 0,
        modifiers: KeyModifiers::NONE,
    };
    app.on_mouse(click(spans[2].0 + 1), &spans, view::LIST_TOP);
    assert_eq!(app.tab().id(), zeroshot::ID);
}

#[test]
fn clicking_a_scrolled_latents_list_selects_the_row_under_the_pointer() {
    let mut app = sample_app();
    press(&mut app, "4");
    app.get_mut::<LatentsTab>().unwrap().row = 60;
    screen(&app, 100, 30);
    let offset = latents_tab(&app).offset.get();
    assert!(offset > 0, "row 60 is below the first screen");
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 3,
        row: view::LIST_TOP + 2,
        modifiers: KeyModifiers::NONE,
    };
    let spans = view::tab_spans(&app);
    app.on_mouse(click, &spans, view::LIST_TOP);
    assert_eq!(latents_tab(&app).row, offset + 2);
    let shown = screen(&app, 100, 30);
    let line = shown.lines().nth(view::LIST_TOP as usize + 2).unwrap();
    let tab = latents_tab(&app);
    let id = tab.rows(&app.lab)[tab.row].id;
    assert!(line.contains(&format!(" {id} ")), "{line}");
}

#[test]
fn typing_finishes_before_a_click_can_switch_tabs() {
    let mut app = sample_app();
    press(&mut app, "4/red");
    let spans = view::tab_spans(&app);
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: spans[0].0 + 1,
        row: 0,
        modifiers: KeyModifiers::NONE,
    };
    assert!(app.on_mouse(click, &spans, view::LIST_TOP).is_empty());
    assert_eq!(app.tab().id(), latents::ID);
    code(&mut app, KeyCode::Enter);
    assert_eq!(latents_tab(&app).query, "red");
    assert_eq!(app.get::<TrainTab>().unwrap().form.set, "demo");
}

#[test]
fn the_sweep_form_reads_the_family_in_any_case_and_refuses_empty_lists() {
    let mut app = sample_app();
    let form = &mut app.get_mut::<TrainTab>().unwrap().form;
    form.arch = "TopK".into();
    let args = form.to_args().unwrap();
    assert_eq!(
        (args.opts.arch, args.ks.as_slice()),
        (ArchArg::Topk, &[16, 32, 64][..])
    );
    assert_eq!(form.swept(), "topk k 16,32,64");
    form.ks = " ".into();
    assert!(form.to_args().unwrap_err().contains("k list"));
    form.arch = "relu".into();
    form.lambdas = "1e-3, 1e-2".into();
    assert_eq!(form.to_args().unwrap().lambdas, [1e-3, 1e-2]);
    form.lambdas = String::new();
    assert!(form.to_args().unwrap_err().contains("λ list"));
}

#[test]
fn explain_asks_for_each_mode_and_hands_latents_to_steer_and_latents() {
    let mut app = sample_app();
    let actions = press(&mut app, "6");
    assert_eq!(app.tab().id(), explain::ID);
    let asked = |actions: &[Action]| -> Option<ExplainQuery> {
        actions.iter().find_map(|a| match a {
            Action::Explain(r) => Some(r.query.clone()),
            _ => None,
        })
    };
    assert_eq!(
        asked(&actions),
        Some(ExplainQuery::Image(ImageRef::Row(1808)))
    );
    assert_eq!(
        asked(&press(&mut app, "]")),
        Some(ExplainQuery::Image(ImageRef::Row(1809)))
    );
    press(&mut app, "/red star");
    let actions = code(&mut app, KeyCode::Enter);
    assert_eq!(asked(&actions), Some(ExplainQuery::Text("red star".into())));
    assert_eq!(app.get::<ExplainTab>().unwrap().mode, Mode::Text);
    assert_eq!(asked(&press(&mut app, "m")), Some(ExplainQuery::Class(0)));
    assert_eq!(asked(&press(&mut app, "l")), Some(ExplainQuery::Class(1)));
    assert_eq!(
        asked(&press(&mut app, "l")),
        Some(ExplainQuery::Class(1)),
        "the last class stays"
    );
    press(&mut app, "j");
    let actions = press(&mut app, "t");
    assert_eq!(app.tab().id(), steer::ID);
    assert!(
        matches!(&actions[..], [Action::Steer(r)] if r.edits == [(12, 2.0)]),
        "{actions:?}"
    );
    press(&mut app, "6");
    let actions = code(&mut app, KeyCode::Enter);
    assert_eq!(app.tab().id(), latents::ID);
    assert_eq!(latents_tab(&app).selected(&app.lab), Some(12));
    assert!(actions.contains(&Action::LoadCollage {
        run: "demo-lam1e-3".into(),
        latent: 12
    }));
}

#[test]
fn the_explain_tab_in_each_mode_at_two_sizes() {
    for (w, h) in [(80, 24), (120, 36)] {
        for (mode, title) in [
            (
                Mode::Image,
                "image 1808: four small outlined red stars on sand, gold frame",
            ),
            (Mode::Text, "text \"red star\""),
            (Mode::Class, "class red star of demo100"),
        ] {
            let mut app = sample_app();
            app.focus(explain::ID);
            let tab = app.get_mut::<ExplainTab>().unwrap();
            tab.mode = mode;
            tab.view.as_mut().unwrap().title = title.into();
            let shown = screen(&app, w, h);
            assert!(shown.contains("6 Explain"), "{shown}");
            insta::assert_snapshot!(format!("explain_{mode:?}_{w}x{h}").to_lowercase(), shown);
        }
    }
}

#[test]
fn the_help_of_every_tab_fits_the_smallest_window() {
    let ids: Vec<_> = sample_app().tabs().iter().map(|t| t.id()).collect();
    for id in ids {
        let mut app = sample_app();
        app.focus(id);
        press(&mut app, "?");
        let shown = screen(&app, 80, 24);
        assert!(shown.contains("any key closes this"), "{id}:\n{shown}");
    }
}

const SIZES: [(u16, u16); 2] = [(100, 30), (160, 48)];

#[test]
fn every_tab_at_two_sizes() {
    for (w, h) in SIZES {
        let ids: Vec<_> = sample_app().tabs().iter().map(|t| t.id()).collect();
        for id in ids {
            let mut app = sample_app();
            app.focus(id);
            let name = format!(
                "{}_{w}x{h}",
                app.tab().title().to_lowercase().replace('-', "")
            );
            insta::assert_snapshot!(name, screen(&app, w, h));
        }
    }
}

#[test]
fn the_help_lists_every_key_the_tab_takes() {
    let app = sample_app();
    for tab in app.tabs() {
        let help = tab.help();
        assert!(!help.is_empty(), "{} has no keys", tab.title());
        for (keys, what) in help {
            assert!(!keys.is_empty() && !what.is_empty(), "{}", tab.title());
        }
    }
    let mut app = sample_app();
    press(&mut app, "4?");
    let shown = screen(&app, 100, 30);
    for key in ["Esc", "Home", "End", "PgUp"] {
        assert!(shown.contains(key), "{key} missing from\n{shown}");
    }
}

#[test]
fn help_overlay_and_too_small() {
    let mut app = sample_app();
    press(&mut app, "4?");
    insta::assert_snapshot!("help_latents", screen(&app, 100, 30));
    let small = screen(&app, 60, 20);
    assert!(small.contains("at least 80×24"), "{small}");
    insta::assert_snapshot!("too_small", small);
}

/// The sample with its live run turned into a TopK run that logs dead latents.
fn with_a_topk_run() -> App {
    let mut app = sample_app();
    let done = app.lab.runs[1].clone();
    let run = &mut app.lab.runs[2];
    run.name = "demo-topk-k32".into();
    run.arch = crate::engine::sae::Arch::TopK;
    run.k = Some(32);
    run.series.iter_mut().for_each(|row| {
        row.arch = Some(crate::engine::sae::Arch::TopK);
        row.k = Some(32);
        row.dead_frac = Some(0.3 / row.step as f64);
    });
    run.results = done.results.map(|mut m| {
        m.avg_l0 = 32.0;
        m.fvu = 0.045;
        m
    });
    app
}

#[test]
fn a_topk_run_charts_dead_latents_and_joins_the_frontier() {
    let mut app = with_a_topk_run();
    let train = screen(&app, 100, 30);
    assert!(
        train.contains("┌ dead ") && !train.contains("┌ loss "),
        "{train}"
    );
    insta::assert_snapshot!("train_topk_100x30", train);
    press(&mut app, "2");
    let metrics = screen(&app, 100, 30);
    assert!(
        metrics.contains("k32") && metrics.contains("topk"),
        "{metrics}"
    );
    insta::assert_snapshot!("metrics_topk_100x30", metrics);
}

/// Issue 16, case 15: a form field that does not parse is named as it is entered, and the
/// field keeps its last good value.
#[test]
fn case_15_a_bad_form_field_is_named_as_it_is_entered() {
    let mut app = sample_app();
    press(&mut app, "jje");
    for _ in 0..4 {
        code(&mut app, KeyCode::Backspace);
    }
    press(&mut app, "abc");
    code(&mut app, KeyCode::Enter);
    assert_eq!(app.get::<TrainTab>().unwrap().form.epochs, "5");
    let message = app.lab.message.clone().unwrap_or_default();
    assert!(
        message.contains("epochs: 'abc' is not a whole number"),
        "{message}"
    );
}

/// Issue 16, case 17: a preview that failed says why in its panel (not "Computing the
/// preview…" forever), and the Steer tab names the run it steers.
#[test]
fn case_17_a_failed_preview_says_why_in_place() {
    let mut app = sample_app();
    press(&mut app, "5");
    let why = "invalid image: 99999 is out of range: the set has 31783 rows (0 to 31782)";
    app.on_notice(&Notice::Steered(Err(why.into())));
    press(&mut app, "m");
    let shown = screen(&app, 100, 30);
    assert!(!shown.contains("Computing the preview"), "{shown}");
    let body: Vec<&str> = shown.lines().skip(1).take(28).collect();
    assert!(body.iter().any(|l| l.contains("out of range")), "{shown}");
    assert!(shown.contains("steer · demo-lam1e-3"), "{shown}");
}

/// Issue 16, case 18: at 80×24 the help and the quit dialog show whole lines, and numbers keep
/// their exponents.
#[test]
fn case_18_popups_and_numbers_fit_the_smallest_window() {
    let ids: Vec<_> = sample_app().tabs().iter().map(|t| t.id()).collect();
    for id in ids {
        let mut app = sample_app();
        app.focus(id);
        let helps = app.tab().help();
        press(&mut app, "?");
        let shown = screen(&app, 80, 24);
        for (_, what) in helps {
            assert!(shown.contains(what), "{id}: '{what}' cut in\n{shown}");
        }
    }
    let mut app = sample_app();
    press(&mut app, "q");
    let shown = screen(&app, 80, 24);
    assert!(
        shown.contains("They keep running headless after you quit;"),
        "{shown}"
    );
    for id in ["train", "metrics"] {
        let mut app = sample_app();
        app.focus(id);
        let shown = screen(&app, 80, 24);
        let cut = shown
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            .any(|w| w.ends_with('e') && w.trim_end_matches('e').parse::<f64>().is_ok());
        assert!(!cut, "{id}: a number lost its exponent\n{shown}");
    }
}

/// Issue 16, case 19: the R² chart does not run down to a diverged batch's −5, and the charts
/// name each run's colour.
#[test]
fn case_19_train_charts_keep_a_useful_range_and_a_legend() {
    let mut app = sample_app();
    for run in &mut app.lab.runs {
        run.series[0].r2 = Some(-5.0);
    }
    let shown = screen(&app, 160, 48);
    assert!(!shown.contains("-5.0000"), "{shown}");
    let chart_lines: Vec<&str> = shown
        .lines()
        .filter(|l| l.contains("R²") || l.contains("│"))
        .collect();
    let legend = chart_lines
        .iter()
        .filter(|l| l.contains("demo-lam1e-2"))
        .count();
    assert!(
        legend >= 2,
        "the runs list and a legend name the run:\n{shown}"
    );
}

/// Issue 16, case 25: a picture drawn with sixel is sent again once a popup over it closes,
/// since the cells under it are never redrawn; nothing is repainted while nothing closes.
#[test]
fn case_25_the_screen_is_repainted_once_after_a_popup_closes() {
    let mut app = sample_app();
    press(&mut app, "4");
    let mut repaint = view::Repaint::default();
    assert!(
        !repaint.after(&app),
        "the first frame draws everything anyway"
    );
    press(&mut app, "?");
    assert!(app.covered());
    assert!(!repaint.after(&app), "opening the help repaints nothing");
    assert!(!repaint.after(&app));
    code(&mut app, KeyCode::Esc);
    assert!(!app.covered());
    assert!(repaint.after(&app), "closing it sends the pictures again");
    assert!(!repaint.after(&app), "once");
    press(&mut app, "q");
    if app.confirm_quit {
        assert!(!repaint.after(&app));
        press(&mut app, "n");
        assert!(repaint.after(&app), "the quit dialog too");
    }
}

/// Issue 16, case 16: a job's status line goes when the job ends, without a key: "scoring
/// demo10…" is replaced by its outcome.
#[test]
fn case_16_a_jobs_status_line_clears_when_it_ends() {
    let mut app = sample_app();
    press(&mut app, "3");
    let actions = press(&mut app, "d");
    assert!(
        matches!(actions[..], [Action::StartJob(JobKind::Zeroshot(_))]),
        "{actions:?}"
    );
    app.on_notice(&Notice::JobEnded {
        label: "zeroshot demo10".into(),
        failed: None,
    });
    let message = app.lab.message.clone().unwrap_or_default();
    assert!(!message.contains("scoring"), "{message}");
    assert!(
        message.contains("zeroshot demo10") && message.contains("done"),
        "{message}"
    );
    app.on_notice(&Notice::JobEnded {
        label: "zeroshot demo100".into(),
        failed: Some("no run named 'r2'".into()),
    });
    let message = app.lab.message.clone().unwrap_or_default();
    assert!(message.contains("failed: no run named 'r2'"), "{message}");
}
