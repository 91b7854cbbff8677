//! Text on PNG charts placed at each glyph's true position. plotters'
//! own text drawing puts every glyph on a whole pixel and ignores its left
//! side bearing, so small text shows gaps inside words ("fallb ack").
//! [`GlyphBackend`] wraps the bitmap backend and draws text itself with
//! ab_glyph (the rasteriser plotters uses): each glyph outlined at its
//! fractional pen position, kerned, its coverage blended pixel by pixel.
//! Everything else, and the text's box and anchoring, is plotters' own.

use std::sync::LazyLock;

use ab_glyph::{Font, FontRef, ScaleFont, point};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// The embedded font, parsed once.
static REGULAR: LazyLock<Option<FontRef<'static>>> =
    LazyLock::new(|| FontRef::try_from_slice(dejavu::sans::regular()).ok());

/// A bitmap backend whose text is placed glyph by glyph.
pub(super) struct GlyphBackend<'a>(BitMapBackend<'a>);

impl<'a> GlyphBackend<'a> {
    pub(super) fn new(inner: BitMapBackend<'a>) -> Self {
        GlyphBackend(inner)
    }
}

type Failure<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

impl<'a> DrawingBackend for GlyphBackend<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), Failure<'a>> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), Failure<'a>> {
        self.0.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Failure<'a>> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), Failure<'a>> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Failure<'a>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Failure<'a>> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Failure<'a>> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Failure<'a>> {
        self.0.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (iw, ih): (u32, u32),
        src: &[u8],
    ) -> Result<(), Failure<'a>> {
        self.0.blit_bitmap(pos, (iw, ih), src)
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), Failure<'a>> {
        // plotters measures (and has always drawn) every style with the
        // regular face: drawing bold here would overrun the measured box.
        let Some(font) = &*REGULAR else {
            return self.0.draw_text(text, style, pos);
        };
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        // The same box and anchoring as plotters gives the text, so that
        // layouts measured with it still hold.
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let (w, h) = self.get_size();
        let size = style.size() as f32;
        let scaled = font.as_scaled(size);
        // plotters puts the baseline half the size below the box's top.
        let baseline = size / 2.0;
        let mut pen = 0.0f32;
        let mut previous = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                pen += scaled.kern(p, id);
            }
            previous = Some(id);
            let glyph = id.with_scale_and_position(size, point(pen, baseline));
            pen += scaled.h_advance(id);
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let inner = &mut self.0;
            let mut failed = None;
            outline.draw(|x, y, coverage| {
                if coverage <= 0.0 || failed.is_some() {
                    return;
                }
                let gx = bounds.min.x as i32 + x as i32;
                let gy = bounds.min.y as i32 + y as i32;
                let (tx, ty) = transform.transform(gx + dx - min_x, gy + dy - min_y);
                let (px, py) = (pos.0 + tx, pos.1 + ty);
                if px >= 0 && px < w as i32 && py >= 0 && py < h as i32 {
                    let shade = BackendColor {
                        alpha: color.alpha * f64::from(coverage.min(1.0)),
                        rgb: color.rgb,
                    };
                    if let Err(e) = inner.draw_pixel((px, py), shade) {
                        failed = Some(e);
                    }
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const TEXT: &str = "fallback intensity 118 t";
    const SIZE: f32 = 12.0;

    /// Columns with ink when `TEXT` is drawn by `draw` on white.
    fn inked_columns(draw: impl FnOnce(&mut [u8], (u32, u32))) -> BTreeSet<i32> {
        let (w, h) = (300u32, 40u32);
        let mut rgb = vec![255u8; (w * h * 3) as usize];
        draw(&mut rgb, (w, h));
        (0..w as i32)
            .filter(|x| (0..h as usize).any(|y| rgb[(y * w as usize + *x as usize) * 3] < 160))
            .collect()
    }

    /// Where the glyphs' ink falls when each is placed at its true
    /// (fractional, kerned) pen position: written here apart from the
    /// backend, from the font alone.
    fn reference_columns(left: i32) -> BTreeSet<i32> {
        let font = FontRef::try_from_slice(dejavu::sans::regular()).unwrap();
        let scaled = font.as_scaled(SIZE);
        let mut columns = BTreeSet::new();
        let mut pen = 0.0f32;
        let mut previous = None;
        for c in TEXT.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                pen += scaled.kern(p, id);
            }
            previous = Some(id);
            let glyph = id.with_scale_and_position(SIZE, point(pen, SIZE / 2.0));
            pen += scaled.h_advance(id);
            if let Some(outline) = font.outline_glyph(glyph) {
                let min_x = outline.px_bounds().min.x as i32;
                let mut ink = Vec::new();
                outline.draw(|x, _, coverage| ink.push((x, coverage)));
                for (x, coverage) in ink {
                    // The same threshold as `inked_columns` on black.
                    if coverage > 0.38 {
                        columns.insert(left + min_x + x as i32);
                    }
                }
            }
        }
        columns
    }

    #[test]
    fn small_text_is_drawn_where_its_glyphs_belong_without_gaps_inside_words() {
        crate::render::chart::ensure_font().unwrap();
        let style = TextStyle::from((crate::render::chart::FONT, f64::from(SIZE)).into_font())
            .color(&BLACK);

        let ours = inked_columns(|rgb, size| {
            let mut backend = GlyphBackend::new(BitMapBackend::with_buffer(rgb, size));
            backend.draw_text(TEXT, &style, (10, 10)).unwrap();
            backend.present().unwrap();
        });

        let reference = reference_columns(10);
        let differ: Vec<i32> = ours.symmetric_difference(&reference).copied().collect();
        assert!(
            differ.is_empty(),
            "columns drawn apart from the font's own layout: {differ:?}"
        );
    }
}
