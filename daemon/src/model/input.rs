//! A batch of rows as a model takes it: numbers in a dense row-major matrix
//! (the fast path every numeric model has always used), and each text
//! column as codes into a small dictionary of the distinct values it holds
//! (categories repeat, so encoders work per distinct value, not per row).
//!
//! Receives values from the datalake readers, the showroom and training;
//! emits [`Inputs`] views that [`super::Model::score`] reads.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use ndarray::ArrayView2;

/// The code of a NULL.
pub const NULL: u32 = u32::MAX;

/// One text column of a batch: a code per row into the distinct values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextColumn {
    values: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u32>,
    codes: Vec<u32>,
}

impl TextColumn {
    pub fn new() -> TextColumn {
        TextColumn::default()
    }

    /// A column holding `values` in order (`None` is NULL).
    pub fn from_values<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> TextColumn {
        let mut c = TextColumn::new();
        for v in values {
            c.push(v);
        }
        c
    }

    /// Appends a row's value.
    pub fn push(&mut self, value: Option<&str>) {
        let code = match value {
            None => NULL,
            Some(v) => match self.index.get(v) {
                Some(&code) => code,
                None => {
                    let code = self.values.len() as u32;
                    let v: Arc<str> = v.into();
                    self.values.push(v.clone());
                    self.index.insert(v, code);
                    code
                }
            },
        };
        self.codes.push(code);
    }

    /// Keeps the first `rows` rows (a row rejected half-way is dropped).
    pub fn truncate(&mut self, rows: usize) {
        self.codes.truncate(rows);
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Row `row`'s value; `None` for NULL.
    pub fn get(&self, row: usize) -> Option<&str> {
        match self.codes[row] {
            NULL => None,
            code => Some(&self.values[code as usize]),
        }
    }

    /// Each row's code into [`Self::distinct`], or [`NULL`].
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }

    /// The distinct values, in order of first appearance.
    pub fn distinct(&self) -> &[Arc<str>] {
        &self.values
    }
}

/// The text columns of a batch, by input column index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextColumns {
    columns: Vec<(usize, TextColumn)>,
}

impl TextColumns {
    pub const fn new() -> TextColumns {
        TextColumns {
            columns: Vec::new(),
        }
    }

    /// Sets the text of input column `column`.
    pub fn insert(&mut self, column: usize, text: TextColumn) {
        match self.columns.iter_mut().find(|(c, _)| *c == column) {
            Some((_, t)) => *t = text,
            None => self.columns.push((column, text)),
        }
    }

    pub fn get(&self, column: usize) -> Option<&TextColumn> {
        self.columns
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, t)| t)
    }

    pub fn get_mut(&mut self, column: usize) -> Option<&mut TextColumn> {
        self.columns
            .iter_mut()
            .find(|(c, _)| *c == column)
            .map(|(_, t)| t)
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (usize, &TextColumn)> {
        self.columns.iter().map(|(c, t)| (*c, t))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut TextColumn)> {
        self.columns.iter_mut().map(|(c, t)| (*c, &mut *t))
    }
}

static NO_TEXT: TextColumns = TextColumns::new();

/// Rows to score: `numbers` (a text column's slots are unused), and the
/// text columns, whose row `r` is this view's row `r - offset`… i.e. a view
/// of rows `offset..offset + numbers.nrows()` of them.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub numbers: ArrayView2<'a, f64>,
    pub texts: &'a TextColumns,
    /// Where this view starts in the text columns.
    pub offset: usize,
}

impl<'a> Inputs<'a> {
    pub fn new(numbers: ArrayView2<'a, f64>, texts: &'a TextColumns) -> Inputs<'a> {
        Inputs {
            numbers,
            texts,
            offset: 0,
        }
    }

    pub fn rows(&self) -> usize {
        self.numbers.nrows()
    }

    /// Rows `range` of this view.
    pub fn slice(&self, range: Range<usize>) -> Inputs<'a> {
        Inputs {
            numbers: self.numbers.slice_move(ndarray::s![range.clone(), ..]),
            texts: self.texts,
            offset: self.offset + range.start,
        }
    }

    /// The text of input column `column` at this view's row `row`:
    /// `Err(())` when the column has no text (it was given as numbers).
    #[allow(clippy::result_unit_err)]
    pub fn text(&self, column: usize, row: usize) -> Result<Option<&'a str>, ()> {
        match self.texts.get(column) {
            Some(t) => Ok(t.get(self.offset + row)),
            None => Err(()),
        }
    }

    /// Like [`Self::text`], shared: NULL is `None`.
    #[allow(clippy::result_unit_err)]
    pub fn text_shared(&self, column: usize, row: usize) -> Result<Option<&'a Arc<str>>, ()> {
        match self.texts.get(column) {
            Some(t) => Ok(match t.codes[self.offset + row] {
                NULL => None,
                code => Some(&t.values[code as usize]),
            }),
            None => Err(()),
        }
    }
}

impl<'a> From<ArrayView2<'a, f64>> for Inputs<'a> {
    fn from(numbers: ArrayView2<'a, f64>) -> Self {
        Inputs::new(numbers, &NO_TEXT)
    }
}

impl<'a> From<&'a ndarray::Array2<f64>> for Inputs<'a> {
    fn from(numbers: &'a ndarray::Array2<f64>) -> Self {
        Inputs::new(numbers.view(), &NO_TEXT)
    }
}

/// One feature's value in a single row (the showroom, `mldctl predict`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
    /// A text feature with no value (a NULL; an empty cell).
    Null,
}

impl Value {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Number(v) => write!(f, "{v}"),
            Value::Text(t) => f.write_str(t),
            Value::Null => f.write_str("NULL"),
        }
    }
}

/// Rows held whole, in a model's feature order, to score as [`Inputs`].
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedInputs {
    pub numbers: ndarray::Array2<f64>,
    pub texts: TextColumns,
}

impl OwnedInputs {
    /// `rows[r][j]` is feature `j` of row `r`; `kinds[j]` says which feature
    /// is text. The caller has checked the values fit the kinds: a number
    /// where text is expected is taken as its text, anything else where a
    /// number is expected as NaN.
    pub fn from_rows(rows: &[Vec<Value>], kinds: &[super::FeatureKind]) -> OwnedInputs {
        let width = kinds.len();
        let mut numbers = ndarray::Array2::zeros((rows.len(), width));
        let mut texts = TextColumns::new();
        for (j, kind) in kinds.iter().enumerate() {
            match kind {
                super::FeatureKind::Number => {
                    for (r, row) in rows.iter().enumerate() {
                        numbers[[r, j]] = row.get(j).and_then(Value::as_number).unwrap_or(f64::NAN);
                    }
                }
                super::FeatureKind::Text => {
                    let mut column = TextColumn::new();
                    for row in rows {
                        match row.get(j) {
                            Some(Value::Text(t)) => column.push(Some(t)),
                            Some(Value::Number(v)) => column.push(Some(&v.to_string())),
                            _ => column.push(None),
                        }
                    }
                    texts.insert(j, column);
                }
            }
        }
        OwnedInputs { numbers, texts }
    }

    pub fn view(&self) -> Inputs<'_> {
        Inputs::new(self.numbers.view(), &self.texts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_columns_share_one_entry_per_distinct_value() {
        let c = TextColumn::from_values([Some("pro"), None, Some("basic"), Some("pro")]);
        assert_eq!(c.len(), 4);
        assert_eq!(c.distinct().len(), 2);
        assert_eq!(c.codes(), &[0, NULL, 1, 0]);
        assert_eq!(
            (0..4).map(|r| c.get(r)).collect::<Vec<_>>(),
            [Some("pro"), None, Some("basic"), Some("pro")]
        );
        let mut d = c.clone();
        d.truncate(2);
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn a_slice_reads_its_own_rows_of_the_text() {
        let numbers = ndarray::Array2::<f64>::zeros((3, 2));
        let mut texts = TextColumns::new();
        texts.insert(1, TextColumn::from_values([Some("a"), Some("b"), None]));
        let all = Inputs::new(numbers.view(), &texts);
        let tail = all.slice(1..3);
        assert_eq!(tail.rows(), 2);
        assert_eq!(tail.text(1, 0), Ok(Some("b")));
        assert_eq!(tail.text(1, 1), Ok(None));
        assert_eq!(tail.text(0, 0), Err(()));
    }
}
