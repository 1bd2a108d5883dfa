//! The report's plots, drawn with plotters into an RGB buffer and saved as PNG.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::fsutil;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 520;
const FONT: &str = "sans-serif";
/// Run colours, in run order, the same in every plot.
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];
const BASELINE: RGBColor = RGBColor(90, 90, 90);

/// The colour of the i-th run.
pub fn run_colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in, so registering it cannot fail at run time.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Draws into a fresh canvas and writes it to `path` as PNG.
fn render(path: &Path, draw: impl FnOnce(&Area) -> DrawResult) -> Result<()> {
    register_font();
    let mut buf = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        let drawn = area
            .fill(&WHITE)
            .map_err(|e| e.to_string().into())
            .and_then(|_| draw(&area))
            .and_then(|_| area.present().map_err(|e| e.to_string().into()));
        drawn.map_err(|e: Box<dyn std::error::Error>| {
            Error::bad_file(path, format!("could not be drawn: {e}"))
        })?;
    }
    let img = image::RgbImage::from_raw(WIDTH, HEIGHT, buf).expect("buffer sized for the canvas");
    fsutil::write_png(path, &img)
}

/// One run's loss curve: (step, loss) points.
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Loss against step, one line per run, log-scale loss.
pub fn loss_curves(path: &Path, curves: &[Curve]) -> Result<()> {
    let max_step = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let losses = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .filter(|v| *v > 0.0);
    let (lo, hi) = losses.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo < hi {
        (lo * 0.9, hi * 1.1)
    } else {
        (1e-6, 1.0)
    };
    render(path, |area| {
        let mut chart = ChartBuilder::on(area)
            .caption("Training loss", (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..max_step, (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("loss")
            .label_style((FONT, 14))
            .draw()?;
        for (i, c) in curves.iter().enumerate() {
            let colour = run_colour(i);
            chart
                .draw_series(LineSeries::new(
                    c.points.iter().copied().filter(|p| p.1 > 0.0),
                    colour.stroke_width(2),
                ))?
                .label(c.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

/// One run's point on the sparsity–reconstruction trade-off.
pub struct TradeOff {
    pub name: String,
    pub avg_l0: f64,
    pub r2: f64,
}

/// R² against average L0, one point per run.
pub fn tradeoff(path: &Path, points: &[TradeOff]) -> Result<()> {
    let max_l0 = points.iter().map(|p| p.avg_l0).fold(1.0, f64::max) * 1.15;
    let min_r2 = points.iter().map(|p| p.r2).fold(1.0, f64::min);
    let lo = (min_r2 - 0.1 * (1.0 - min_r2).max(0.01)).max(-1.0);
    render(path, |area| {
        let mut chart = ChartBuilder::on(area)
            .caption("Sparsity against reconstruction", (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..max_l0, lo..1.0)?;
        chart
            .configure_mesh()
            .x_desc("average L0 (active latents)")
            .y_desc("R²")
            .label_style((FONT, 14))
            .draw()?;
        for (i, p) in points.iter().enumerate() {
            let colour = run_colour(i);
            let point = EmptyElement::at((p.avg_l0, p.r2))
                + Circle::new((0, 0), 7, colour.filled())
                + Text::new(
                    p.name.clone(),
                    (10, -20),
                    (FONT, 14).into_font().color(&BLACK),
                );
            chart.draw_series(std::iter::once(point))?;
        }
        Ok(())
    })
}

/// Top-1 accuracy bars: CLIP alone, then each run.
pub fn accuracy_bars(path: &Path, task: &str, bars: &[(String, f64)]) -> Result<()> {
    let lo = bars.iter().map(|b| b.1).fold(1.0, f64::min);
    let floor = ((lo - 0.05).max(0.0) * 20.0).floor() / 20.0;
    let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    render(path, |area| {
        let mut chart = ChartBuilder::on(area)
            .caption(format!("Zero-shot top-1: {task}"), (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..(bars.len() as f64 - 0.5), floor..1.0)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bars.len())
            .x_label_formatter(&|x| names.get(x.round() as usize).cloned().unwrap_or_default())
            .y_desc("top-1 accuracy")
            .label_style((FONT, 14))
            .draw()?;
        for (i, (_, acc)) in bars.iter().enumerate() {
            let colour = if i == 0 { BASELINE } else { run_colour(i - 1) };
            let x = i as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.35, floor), (x + 0.35, *acc)],
                colour.filled(),
            )))?;
        }
        Ok(())
    })
}
