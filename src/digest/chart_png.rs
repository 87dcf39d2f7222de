//! Drawing the trend chart as a PNG, in process: shapes with plotters into a pixel buffer,
//! text with `ab_glyph` and the bundled font (no system library), then `png`. Colours are the
//! Okabe–Ito palette, which stays distinct for the common kinds of colour blindness, and each
//! question also has its own marker shape, so the chart reads in grey too.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use plotters::prelude::*;

use super::chart::{TrendChart, short_date};
use crate::survey::Question;

pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 440;

/// Each question's colour, in [`Question::ALL`] order: blue, orange, green.
pub const SERIES: [RGBColor; Question::COUNT] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
];
/// Commitment marks: reddish purple, dashed.
pub const MARK: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
/// The band of a window without numbers.
pub const GAP: RGBColor = RGBColor(0xEE, 0xEE, 0xEE);
const INK: RGBColor = RGBColor(0x3C, 0x3C, 0x3C);
const GRID: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);

/// DejaVu Sans (see `assets/fonts/LICENSE-DejaVu.txt`).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The scale's ends, with room for a marker at 1 or 5.
const Y_LOW: f64 = 0.7;
const Y_HIGH: f64 = 5.3;

/// How far apart (in slots) the three questions' markers sit at one release, so that equal
/// averages stay visible side by side instead of hiding one another.
const DODGE: f64 = 0.06;

fn font() -> anyhow::Result<&'static FontRef<'static>> {
    static FONT_REF: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT_REF
        .get_or_init(|| FontRef::try_from_slice(FONT).ok())
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the bundled chart font could not be read"))
}

/// Where a label's anchor point sits on the label.
#[derive(Debug, Clone, Copy)]
enum Anchor {
    Left,
    Centre,
    Right,
}

/// A line of text to draw once the shapes are down.
struct Label {
    text: String,
    /// The anchor's pixel: horizontally by `anchor`, vertically the middle of the line.
    at: (i32, i32),
    size: f32,
    anchor: Anchor,
}

impl Label {
    fn new(text: impl Into<String>, at: (i32, i32), size: f32, anchor: Anchor) -> Label {
        Label {
            text: text.into(),
            at,
            size,
            anchor,
        }
    }
}

/// The chart as PNG bytes, [`WIDTH`] × [`HEIGHT`].
pub fn render(chart: &TrendChart) -> anyhow::Result<Vec<u8>> {
    let font = font()?;
    let mut pixels = vec![0xFF; (WIDTH * HEIGHT * 3) as usize];
    let labels = draw_shapes(chart, &mut pixels)?;
    for label in &labels {
        draw_label(font, label, &mut pixels);
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(png)
}

/// Lays out one line (advances and kerning) and blends its glyphs into the pixels. Text is
/// drawn here rather than by plotters, whose `ab_glyph` text ignores each glyph's side
/// bearing and so spaces letters unevenly.
fn draw_label(font: &FontRef<'static>, label: &Label, pixels: &mut [u8]) {
    let scale = PxScale::from(label.size);
    let scaled = font.as_scaled(scale);
    let ids: Vec<_> = label.text.chars().map(|c| font.glyph_id(c)).collect();
    let mut width = 0.0;
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            width += scaled.kern(ids[i - 1], *id);
        }
        width += scaled.h_advance(*id);
    }
    let (x, y) = (label.at.0 as f32, label.at.1 as f32);
    let mut caret = match label.anchor {
        Anchor::Left => x,
        Anchor::Centre => x - width / 2.0,
        Anchor::Right => x - width,
    };
    // The line's middle (between ascent and descent) sits on the anchor's row.
    let baseline = y + (scaled.ascent() + scaled.descent()) / 2.0;
    let ink = [INK.0, INK.1, INK.2];
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            caret += scaled.kern(ids[i - 1], *id);
        }
        let glyph = id.with_scale_and_position(scale, point(caret, baseline));
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i32 + gx as i32;
                let py = bounds.min.y as i32 + gy as i32;
                if (0..WIDTH as i32).contains(&px) && (0..HEIGHT as i32).contains(&py) {
                    let at = ((py as u32 * WIDTH + px as u32) * 3) as usize;
                    for (channel, ink) in pixels[at..at + 3].iter_mut().zip(ink) {
                        let blended =
                            f32::from(*channel) * (1.0 - coverage) + f32::from(ink) * coverage;
                        *channel = blended.round() as u8;
                    }
                }
            });
        }
        caret += scaled.h_advance(*id);
    }
}

/// Draws every shape and returns the labels to write over them.
fn draw_shapes(chart: &TrendChart, pixels: &mut [u8]) -> anyhow::Result<Vec<Label>> {
    let mut labels = Vec::new();
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (legend, plot) = root.split_vertically(52);
    draw_legend(chart, &legend, &mut labels)?;

    let last = chart.slots.len().saturating_sub(1) as f64;
    let left = chart.marks.iter().map(|m| m.x).fold(0.0, f64::min) - 0.5;
    let right = chart.marks.iter().map(|m| m.x).fold(last, f64::max) + 0.5;
    let mut ctx = ChartBuilder::on(&plot)
        .margin_left(16)
        .margin_right(24)
        .margin_bottom(8)
        .x_label_area_size(34)
        .y_label_area_size(36)
        .build_cartesian_2d(left..right, Y_LOW..Y_HIGH)?;

    // The scale: a line and a label at each whole score.
    for score in 1..=5 {
        let y = f64::from(score);
        ctx.draw_series(LineSeries::new(
            [(left, y), (right, y)],
            GRID.stroke_width(1),
        ))?;
        let (px, py) = ctx.backend_coord(&(left, y));
        labels.push(Label::new(
            score.to_string(),
            (px - 10, py),
            16.0,
            Anchor::Right,
        ));
    }

    // Windows without numbers: a grey band and why, never a zero.
    for (i, slot) in chart.slots.iter().enumerate() {
        if slot.means.is_some() {
            continue;
        }
        let x = i as f64;
        ctx.draw_series([Rectangle::new(
            [(x - 0.38, Y_LOW), (x + 0.38, Y_HIGH)],
            GAP.filled(),
        )])?;
        let why = if slot.date.is_some() {
            "too few"
        } else {
            "held"
        };
        let at = ctx.backend_coord(&(x, 3.0));
        labels.push(Label::new(why, at, 14.0, Anchor::Centre));
    }

    for mark in &chart.marks {
        ctx.draw_series(DashedLineSeries::new(
            [(mark.x, Y_LOW), (mark.x, Y_HIGH)],
            8,
            6,
            MARK.stroke_width(2),
        ))?;
        let (px, py) = ctx.backend_coord(&(mark.x, Y_HIGH));
        let due = format!("due {}", short_date(mark.due));
        // Right of the line, or left of it near the picture's right edge.
        let label = match px < WIDTH as i32 - 90 {
            true => Label::new(due, (px + 5, py + 9), 13.0, Anchor::Left),
            false => Label::new(due, (px - 5, py + 9), 13.0, Anchor::Right),
        };
        labels.push(label);
    }

    for question in Question::ALL {
        let colour = SERIES[question.index()];
        let dodge = (question.index() as f64 - 1.0) * DODGE;
        // A line through each run of releases with numbers; a gap breaks it.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut runs = Vec::new();
        for (i, slot) in chart.slots.iter().enumerate() {
            match slot.means {
                Some(means) => run.push((i as f64 + dodge, means[question.index()])),
                None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
                None => {}
            }
        }
        runs.push(run);
        for run in runs.iter().filter(|r| !r.is_empty()) {
            ctx.draw_series(LineSeries::new(run.iter().copied(), colour.stroke_width(3)))?;
            let fill = colour.filled();
            // Care a circle, help a square, trust a triangle (the key draws the same).
            match question {
                Question::Care => ctx.draw_series(run.iter().map(|p| Circle::new(*p, 6, fill))),
                Question::Help => ctx.draw_series(
                    run.iter()
                        .map(|p| EmptyElement::at(*p) + Rectangle::new([(-5, -5), (5, 5)], fill)),
                ),
                Question::Trust => {
                    ctx.draw_series(run.iter().map(|p| TriangleMarker::new(*p, 7, fill)))
                }
            }?;
        }
    }

    // Each slot's date under the axis.
    for (i, slot) in chart.slots.iter().enumerate() {
        let label = slot.date.map_or("now".to_owned(), short_date);
        let (px, py) = ctx.backend_coord(&(i as f64, Y_LOW));
        labels.push(Label::new(label, (px, py + 16), 14.0, Anchor::Centre));
    }
    root.present()?;
    Ok(labels)
}

/// The title and the key: each question's line and marker, and the commitment mark if any.
fn draw_legend(
    chart: &TrendChart,
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    labels: &mut Vec<Label>,
) -> anyhow::Result<()> {
    let y = 28;
    labels.push(Label::new(
        "Team trust, average on the 1–5 scale",
        (24, y),
        17.0,
        Anchor::Left,
    ));
    let mut x = 380;
    for question in Question::ALL {
        let colour = SERIES[question.index()];
        area.draw(&PathElement::new(
            [(x, y), (x + 28, y)],
            colour.stroke_width(3),
        ))?;
        let (at, fill) = ((x + 14, y), colour.filled());
        match question {
            Question::Care => area.draw(&Circle::new(at, 6, fill)),
            Question::Help => {
                area.draw(&(EmptyElement::at(at) + Rectangle::new([(-5, -5), (5, 5)], fill)))
            }
            Question::Trust => area.draw(&TriangleMarker::new(at, 7, fill)),
        }?;
        labels.push(Label::new(
            question.label(),
            (x + 36, y),
            16.0,
            Anchor::Left,
        ));
        x += 104;
    }
    if !chart.marks.is_empty() {
        for dash in [0, 12] {
            area.draw(&PathElement::new(
                [(x + dash, y), (x + dash + 7, y)],
                MARK.stroke_width(2),
            ))?;
        }
        labels.push(Label::new(
            "commitment due",
            (x + 26, y),
            16.0,
            Anchor::Left,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::chart::trend_chart;
    use crate::digest::fixtures::{WEEK1, release_of_one_wave};
    use crate::digest::release::Release;
    use jiff::civil::date;

    /// Six weeks with one short window, a commitment, and a window held now.
    pub(super) fn chart() -> TrendChart {
        let weeks: Vec<Release> = [
            ("2026-10-08", WEEK1),
            (
                "2026-10-15",
                &[(4, 3, 4), (3, 2, 4), (4, 3, 3), (4, 2, 4), (5, 3, 4)][..],
            ),
            ("2026-10-22", &WEEK1[..3]),
            (
                "2026-10-29",
                &[(4, 3, 4), (4, 3, 4), (4, 4, 5), (5, 3, 4), (3, 3, 4)][..],
            ),
            (
                "2026-11-05",
                &[(5, 4, 4), (4, 4, 5), (4, 3, 4), (5, 4, 5), (4, 4, 4)][..],
            ),
            (
                "2026-11-12",
                &[(5, 4, 5), (4, 4, 5), (5, 4, 4), (5, 5, 5), (4, 4, 4)][..],
            ),
        ]
        .iter()
        .map(|(end, scores)| release_of_one_wave(end, scores, &[]))
        .collect();
        trend_chart(&weeks, true, &[date(2026, 10, 26)]).unwrap()
    }

    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        pixels.truncate(info.buffer_size());
        (info.width, info.height, pixels)
    }

    /// Pixels of exactly `colour`, in the columns `columns` of the plot (all of the picture
    /// when None).
    fn count(pixels: &[u8], colour: RGBColor, columns: Option<(u32, u32)>) -> usize {
        pixels
            .chunks_exact(3)
            .enumerate()
            .filter(|(i, _)| {
                let (x, y) = (*i as u32 % WIDTH, *i as u32 / WIDTH);
                // The plot starts under the key, which has each colour too.
                columns.is_none_or(|(from, to)| (from..to).contains(&x) && y > 56)
            })
            .filter(|(_, p)| *p == [colour.0, colour.1, colour.2])
            .count()
    }

    #[test]
    fn the_png_has_the_size_slack_gets() {
        let png = render(&chart()).unwrap();
        let (width, height, _) = decode(&png);
        // Byte for byte the same for the same input and the locked crate versions.
        insta::assert_snapshot!(
            "chart_png_size",
            format!("{width}x{height} pixels, {} bytes", png.len())
        );
    }

    #[test]
    fn each_question_is_drawn_in_its_colour_and_the_mark_too() {
        let (_, _, pixels) = decode(&render(&chart()).unwrap());
        for question in Question::ALL {
            let drawn = count(&pixels, SERIES[question.index()], None);
            assert!(drawn > 500, "{question:?}: {drawn} pixels");
        }
        assert!(count(&pixels, MARK, None) > 100);
        assert!(count(&pixels, GAP, None) > 10_000);
    }

    #[test]
    fn no_line_crosses_a_gap() {
        let (_, _, pixels) = decode(&render(&chart()).unwrap());
        // The bands of the short window and of the held one, found in a row above their words.
        let row = HEIGHT / 4;
        let band: Vec<u32> = (0..WIDTH)
            .filter(|x| {
                let at = ((row * WIDTH + x) * 3) as usize;
                pixels[at..at + 3] == [GAP.0, GAP.1, GAP.2]
            })
            .collect();
        let first_band_end = band
            .windows(2)
            .position(|w| w[1] != w[0] + 1)
            .map_or(band.len() - 1, |i| i);
        let (from, to) = (band[0], band[first_band_end]);
        assert!(to - from > 40, "the short window's band: {from}..{to}");
        // Clear of the neighbours' markers, which may overlap the band's edges.
        let inside = (from + 12, to - 12);
        for question in Question::ALL {
            assert_eq!(
                count(&pixels, SERIES[question.index()], Some(inside)),
                0,
                "{question:?} is drawn across the gap"
            );
        }
    }
}
