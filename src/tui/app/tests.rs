//! Keys drive the state; every tab, the help overlay and the too-small message are snapshots of
//! the sample state at two terminal sizes.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::*;
use crate::tui::sample::sample_app;
use crate::tui::view::{self, NoCollages};

fn press(app: &mut App, keys: &str) -> Vec<Command> {
    keys.chars()
        .flat_map(|c| app.on_key(KeyEvent::from(KeyCode::Char(c))))
        .collect()
}

fn code(app: &mut App, code: KeyCode) -> Vec<Command> {
    app.on_key(KeyEvent::from(code))
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(f, app, &mut NoCollages)).unwrap();
    t.backend().to_string()
}

#[test]
fn number_keys_tab_and_backtab_switch_tabs() {
    let mut app = sample_app();
    press(&mut app, "2");
    assert_eq!(app.tab, Tab::Metrics);
    code(&mut app, KeyCode::Tab);
    assert_eq!(app.tab, Tab::Zeroshot);
    code(&mut app, KeyCode::BackTab);
    code(&mut app, KeyCode::BackTab);
    code(&mut app, KeyCode::BackTab);
    assert_eq!(app.tab, Tab::Steer, "Shift-Tab wraps around");
}

#[test]
fn quitting_asks_first_while_a_run_trains() {
    let mut app = sample_app();
    assert!(press(&mut app, "q").is_empty());
    assert!(app.confirm_quit && !app.quit);
    press(&mut app, "n");
    assert!(!app.confirm_quit && !app.quit);
    press(&mut app, "q");
    assert_eq!(press(&mut app, "y"), [Command::Quit]);
    let mut idle = App::new(Theme::default(), "ws".into(), "cpu".into());
    assert_eq!(
        idle.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        [Command::Quit]
    );
}

#[test]
fn the_sweep_form_is_edited_and_started() {
    let mut app = sample_app();
    press(&mut app, "jj");
    press(&mut app, "e");
    assert_eq!(app.input, Input::Field);
    code(&mut app, KeyCode::Backspace);
    press(&mut app, "1");
    code(&mut app, KeyCode::Enter);
    assert_eq!(app.form.epochs, "1");
    let cmds = press(&mut app, "s");
    assert!(matches!(&cmds[..], [Command::StartSweep(f)] if f.epochs == "1" && f.set == "demo"));
    // The live run (the third) can be stopped; a finished one cannot.
    press(&mut app, "]]");
    assert_eq!(press(&mut app, "x"), [Command::Stop("demo-lam3e-2".into())]);
    press(&mut app, "[");
    assert!(press(&mut app, "x").is_empty());
}

#[test]
fn metrics_sort_by_any_column_and_mark_runs() {
    let mut app = sample_app();
    press(&mut app, "2");
    press(&mut app, "llll");
    assert_eq!(METRIC_COLUMNS[app.sort_column], "R²");
    let names: Vec<_> = app.sorted_runs().iter().map(|r| r.name.clone()).collect();
    assert_eq!(
        names[0], "demo-lam1e-2",
        "lowest R² first, the unfinished run last"
    );
    press(&mut app, "s");
    assert_eq!(app.sorted_runs()[0].name, "demo-lam3e-2");
    press(&mut app, " ");
    assert_eq!(app.compare, ["demo-lam3e-2"]);
}

#[test]
fn latents_search_sort_jump_and_steer() {
    let mut app = sample_app();
    app.latents = None;
    let cmds = press(&mut app, "4");
    assert_eq!(app.tab, Tab::Latents);
    assert!(
        matches!(&cmds[..], [Command::LoadLatents(r)] if r == "demo-lam1e-3"),
        "{cmds:?}"
    );
    app.latents_loading = false;
    app.latents = Some(sample_app().latents.unwrap());
    let cmds = press(&mut app, "j");
    assert_eq!(
        cmds,
        [Command::LoadCollage {
            run: "demo-lam1e-3".into(),
            latent: 1
        }]
    );
    press(&mut app, "/star");
    assert_eq!(app.latent_rows().len(), 14, "labels naming star");
    code(&mut app, KeyCode::Enter);
    assert_eq!(app.latent_query, "star");
    code(&mut app, KeyCode::Esc);
    press(&mut app, "#");
    press(&mut app, "17");
    code(&mut app, KeyCode::Enter);
    assert_eq!(app.selected_latent(), Some(17));
    let cmds = press(&mut app, "t");
    assert_eq!(app.tab, Tab::Steer);
    assert!(matches!(&cmds[..], [Command::Steer(r)] if r.edits == [(17, 2.0)]));
}

#[test]
fn steering_keys_move_strength_stack_and_reset() {
    let mut app = sample_app();
    press(&mut app, "5");
    app.steer_latent = Some(4);
    app.steer_strength = 0.0;
    code(&mut app, KeyCode::Right);
    let cmds = code(&mut app, KeyCode::Right);
    assert!(matches!(&cmds[..], [Command::Steer(r)] if r.edits == [(4, 2.0 * STRENGTH_STEP)]));
    code(&mut app, KeyCode::Enter);
    assert_eq!(app.steer_stack, [(4, 1.0)]);
    let cmds = press(&mut app, "m");
    assert!(matches!(&cmds[..], [Command::Steer(r)] if r.method == Method::Add));
    press(&mut app, "i");
    press(&mut app, "42");
    code(&mut app, KeyCode::Enter);
    assert_eq!(app.steer_image, ImageRef::Row(42));
    press(&mut app, "r");
    assert!(app.steer_stack.is_empty());
}

#[test]
fn a_picture_path_can_be_typed_in_place_of_an_image_id() {
    let mut app = sample_app();
    press(&mut app, "5");
    press(&mut app, "i");
    press(&mut app, "/data/quiet cat.jpg");
    let cmds = code(&mut app, KeyCode::Enter);
    let file = ImageRef::File("/data/quiet cat.jpg".into());
    assert!(matches!(&cmds[..], [Command::Steer(r)] if r.image == file));
    assert_eq!(app.steer_image, file);
    code(&mut app, KeyCode::Down);
    assert_eq!(
        app.steer_image,
        ImageRef::Row(0),
        "arrows go back to the set's rows"
    );
}

#[test]
fn g_asks_for_a_triptych_once_kandinsky_is_set_up() {
    let mut app = sample_app();
    press(&mut app, "5");
    assert!(press(&mut app, "g").is_empty());
    assert!(app.message.as_deref().unwrap().contains("kandinsky.toml"));
    app.kandinsky = Some(KandinskySettings {
        decoder: "kandinsky-community/kandinsky-2-2-decoder".into(),
        prior: "kandinsky-community/kandinsky-2-2-prior".into(),
        steps: 50,
        size: 512,
    });
    app.steer_strength = -3.0;
    let cmds = press(&mut app, "g");
    assert!(
        matches!(&cmds[..], [Command::Generate(r)] if r.latent == 3 && r.strength == 3.0 && r.image == ImageRef::Row(0)),
        "{cmds:?}"
    );
    app.steer_latent = None;
    assert!(press(&mut app, "g").is_empty());
}

#[test]
fn a_triptych_in_progress_shows_its_step_gauge() {
    let mut app = sample_app();
    app.tab = Tab::Steer;
    let run = app.explored_run().unwrap().name.clone();
    app.generation = Some(GenerationView {
        run,
        latent: 3,
        strength: 2.0,
        dir: "/ws/runs/r/generated/lab-1".into(),
        step: Some((61, 150, "plus".into())),
        ready: false,
    });
    let shown = screen(&app, 100, 30);
    assert!(shown.contains("generating plus: step 61/150"), "{shown}");
    insta::assert_snapshot!("steer_generating_100x30", shown);
    app.generation.as_mut().unwrap().ready = true;
    let done = screen(&app, 100, 30);
    assert!(
        done.contains("/ws/runs/r/generated/lab-1") && done.contains("minus.png"),
        "{done}"
    );
}

#[test]
fn clicking_a_tab_switches_to_it() {
    let mut app = sample_app();
    let spans = view::tab_spans();
    let click = |col| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: col,
        row: 0,
        modifiers: KeyModifiers::NONE,
    };
    app.on_mouse(click(spans[2].0 + 1), &spans, view::LIST_TOP);
    assert_eq!(app.tab, Tab::Zeroshot);
}

#[test]
fn clicking_a_scrolled_latents_list_selects_the_row_under_the_pointer() {
    let mut app = sample_app();
    press(&mut app, "4");
    app.latent_row = 60;
    screen(&app, 100, 30);
    let offset = app.latent_offset.get();
    assert!(offset > 0, "row 60 is below the first screen");
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 3,
        row: view::LIST_TOP + 2,
        modifiers: KeyModifiers::NONE,
    };
    app.on_mouse(click, &view::tab_spans(), view::LIST_TOP);
    assert_eq!(app.latent_row, offset + 2);
    let shown = screen(&app, 100, 30);
    let line = shown.lines().nth(view::LIST_TOP as usize + 2).unwrap();
    let id = app.latent_rows()[app.latent_row].id;
    assert!(line.contains(&format!(" {id} ")), "{line}");
}

const SIZES: [(u16, u16); 2] = [(100, 30), (160, 48)];

#[test]
fn every_tab_at_two_sizes() {
    for (w, h) in SIZES {
        for tab in Tab::ALL {
            let mut app = sample_app();
            app.tab = tab;
            let name = format!("{}_{w}x{h}", tab.title().to_lowercase().replace('-', ""));
            insta::assert_snapshot!(name, screen(&app, w, h));
        }
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
    let done = app.runs[1].clone();
    let run = &mut app.runs[2];
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
    app.tab = Tab::Metrics;
    let metrics = screen(&app, 100, 30);
    assert!(
        metrics.contains("k32") && metrics.contains("topk"),
        "{metrics}"
    );
    insta::assert_snapshot!("metrics_topk_100x30", metrics);
}
