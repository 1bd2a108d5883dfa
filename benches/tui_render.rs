//! One frame of each tab of the lab at 200×60 with three live runs (the sample state), drawn
//! into ratatui's TestBackend: milliseconds per frame. The goal is under 5 ms.
//!
//!     cargo bench --bench tui_render

use std::time::Instant;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use saelab::engine::run::Status;
use saelab::tui::sample::sample_app;
use saelab::tui::view::draw;
use saelab::tui::widgets::NoCollages;

const FRAMES: usize = 200;

fn main() {
    let mut app = sample_app();
    for r in &mut app.lab.runs {
        r.status = Status::Running;
    }
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test backend");
    let mut report = serde_json::Map::new();
    let ids: Vec<_> = app.tabs().iter().map(|t| t.id()).collect();
    for id in ids {
        app.focus(id);
        terminal
            .draw(|f| draw(f, &app, &mut NoCollages))
            .expect("draws");
        let start = Instant::now();
        for _ in 0..FRAMES {
            terminal
                .draw(|f| draw(f, &app, &mut NoCollages))
                .expect("draws");
        }
        let ms = start.elapsed().as_secs_f64() * 1e3 / FRAMES as f64;
        report.insert(
            format!(
                "{}_ms_per_frame",
                app.tab().title().to_lowercase().replace('-', "")
            ),
            ms.into(),
        );
    }
    println!("{}", serde_json::Value::Object(report));
}
