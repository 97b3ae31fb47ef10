//! ONNX models: finding and loading the ONNX Runtime library, checking an
//! imported graph (input shape, label output, class labels) and scoring rows with it.
//!
//! Receives: `.onnx` bytes (scikit-learn classifiers and regressors exported
//! by skl2onnx with `zipmap` off, pipelines with encoders among them), the
//! declared features and their types, optional labels, and where the runtime
//! library may be. Emits: an [`OnnxPredictor`] (class index + score, or a
//! value, per row; the rows its encoders refuse set aside with the reason)
//! or a [`ModelError`] saying what is missing or unsupported and how to fix it.
//!
//! A graph takes one or several inputs, each `[N, columns]` of floats,
//! doubles, int64s or strings. One input per column (how skl2onnx exports a
//! `ColumnTransformer` given one input per column) is matched to the
//! features by name; otherwise the inputs take the features in order.
//!
//! The runtime is loaded at most once per process (ONNX Runtime allows one
//! environment); native models never touch it, so they keep working without it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session, SessionInputValue};
use ort::value::{Tensor, TensorElementType, ValueType};

use super::ModelError;
use super::input::Inputs;
use super::meta::{FeatureKind, Task};

/// Where the runtime library was looked for, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnnxRuntimeSource {
    /// `models.onnxruntime` in the config.
    Config(PathBuf),
    /// The `ORT_DYLIB_PATH` environment variable.
    Env(PathBuf),
    /// The `onnxruntime` Python package's `capi/` folder.
    Python(PathBuf),
}

impl OnnxRuntimeSource {
    pub fn path(&self) -> &Path {
        match self {
            OnnxRuntimeSource::Config(p)
            | OnnxRuntimeSource::Env(p)
            | OnnxRuntimeSource::Python(p) => p,
        }
    }
}

/// Finds libonnxruntime: the configured path if set (and only it: a wrong
/// explicit path is an error, not a reason to guess), else `ORT_DYLIB_PATH`,
/// else the installed `onnxruntime` Python package.
pub fn locate_onnxruntime(configured: Option<&Path>) -> Result<OnnxRuntimeSource, ModelError> {
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(OnnxRuntimeSource::Config(p.to_path_buf()))
        } else {
            Err(ModelError::OnnxRuntimeMissing {
                tried: format!("models.onnxruntime = {} does not exist", p.display()),
            })
        };
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(OnnxRuntimeSource::Env(p))
        } else {
            Err(ModelError::OnnxRuntimeMissing {
                tried: format!("ORT_DYLIB_PATH = {} does not exist", p.display()),
            })
        };
    }
    match python_onnxruntime() {
        Ok(p) => Ok(OnnxRuntimeSource::Python(p.clone())),
        Err(why) => Err(ModelError::OnnxRuntimeMissing {
            tried: format!("models.onnxruntime and ORT_DYLIB_PATH are unset; {why}"),
        }),
    }
}

/// Asks python3 where the `onnxruntime` package lives (once per process: it costs a process start).
fn python_onnxruntime() -> &'static Result<PathBuf, String> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOUND.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import onnxruntime,os;print(os.path.dirname(onnxruntime.__file__))",
            ])
            .output()
            .map_err(|e| format!("python3 could not be run ({e})"))?;
        if !out.status.success() {
            return Err("the onnxruntime Python package is not installed".to_string());
        }
        let capi = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("capi");
        let mut libs: Vec<PathBuf> = std::fs::read_dir(&capi)
            .map_err(|e| format!("{}: {e}", capi.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libonnxruntime.so"))
            })
            .collect();
        libs.sort();
        libs.pop()
            .ok_or_else(|| format!("no libonnxruntime.so* in {}", capi.display()))
    })
}

/// Locates and loads ONNX Runtime (once per process); the error says what is missing and how to fix it.
pub fn ensure_runtime(configured: Option<&Path>) -> Result<(), ModelError> {
    environment(configured).map(|_| ())
}

/// The process-wide ONNX Runtime environment, created on first use.
fn environment(configured: Option<&Path>) -> Result<ort::environment::Environment, ModelError> {
    static ENV: Mutex<Option<ort::environment::Environment>> = Mutex::new(None);
    // Locate first, even when loaded: a misconfigured path must still be reported.
    let source = locate_onnxruntime(configured)?;
    let mut env = ENV.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = env.as_ref() {
        return Ok(e.clone());
    }
    let path = source.path().to_path_buf();
    let load_err = |reason: String| ModelError::OnnxRuntimeLoad {
        path: path.clone(),
        reason,
    };
    let built = ort::init_from(&path)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("mld")
        .with_telemetry(false)
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    *env = Some(built.clone());
    Ok(built)
}

/// Element type of a graph input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    F32,
    F64,
    I64,
    /// Text (skl2onnx's `StringTensorType`).
    Str,
}

impl InputType {
    /// What a feature fed to an input of this type is.
    pub fn kind(self) -> FeatureKind {
        match self {
            InputType::Str => FeatureKind::Text,
            _ => FeatureKind::Number,
        }
    }

    fn name(self) -> &'static str {
        match self {
            InputType::F32 => "float",
            InputType::F64 => "double",
            InputType::I64 => "int64",
            InputType::Str => "string",
        }
    }
}

/// One input of a graph as it declares itself: `[N, width]` values of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphInput {
    pub name: String,
    pub ty: InputType,
    /// Columns; `None` when the graph leaves it open.
    pub width: Option<usize>,
}

/// What the graph outputs.
#[derive(Debug, Clone, Copy)]
enum OutputSpec {
    /// A label tensor (int64 or string), maybe a probability tensor.
    Classes {
        label: usize,
        int_labels: bool,
        probabilities: Option<usize>,
    },
    /// One number per row (a regressor), float or double.
    Value { output: usize, f64: bool },
}

/// How the label output encodes classes; `values[i]` is class `i`'s label.
/// Looked up by linear scan: classifiers have few classes, and a scan beats hashing them.
#[derive(Debug)]
enum LabelOutput {
    Int(Vec<i64>),
    Text(Vec<String>),
}

impl LabelOutput {
    fn len(&self) -> usize {
        match self {
            LabelOutput::Int(v) => v.len(),
            LabelOutput::Text(v) => v.len(),
        }
    }
}

/// An encoder (ONNX `OneHotEncoder`) traced back to the graph input column it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedEncoder {
    pub input: String,
    /// The input's columns it reads; `None`: all of them.
    pub columns: Option<Vec<usize>>,
    /// Its categories, sorted.
    pub categories: Vec<String>,
    /// Whether an unknown category fails the graph (`zeros = 0`, skl2onnx's
    /// export of `handle_unknown="error"`) rather than encoding as zeros.
    pub strict: bool,
}

/// What [`inspect`] learns from a graph.
#[derive(Debug)]
pub struct OnnxInfo {
    pub labels: Vec<String>,
    /// The operator types in the graph, in order of first appearance.
    pub ops: Vec<String>,
    pub producer: String,
    /// The text encoders whose input could be traced.
    pub encoders: Vec<TracedEncoder>,
    /// Each `LinearClassifier` and the tensor holding its probabilities.
    pub linear: Vec<LinearHead>,
}

/// A `LinearClassifier` node (logistic regression, linear SVM): its label
/// is the first class of greatest raw score (ONNX Runtime's rule), and its
/// probabilities are those scores after `transform`, maybe divided by their
/// sum (a `Normalizer` with `norm = L1`, as skl2onnx adds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinearHead {
    /// The tensor holding its labels.
    pub label: String,
    /// The tensor holding its probabilities (after the normalizer, if any).
    pub probabilities: String,
    /// Its classes, in score order (`classlabels_strings` or `classlabels_ints`).
    pub classes: Vec<String>,
    /// How many scores it computes per row (`intercepts`).
    pub targets: usize,
    /// `post_transform`: NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO or PROBIT.
    pub transform: String,
    /// Whether an L1 `Normalizer` stands between its scores and `probabilities`.
    pub normalized: bool,
}

/// What the graph said about one row of a chunk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Output {
    Class { index: usize, score: f64 },
    Value(f64),
}

/// A feature whose encoder refuses categories it does not know.
#[derive(Debug)]
struct Strict {
    feature: usize,
    /// Sorted.
    categories: Vec<String>,
}

/// A loaded ONNX classifier or regressor.
pub struct OnnxPredictor {
    /// `run` needs `&mut`; one batch at a time per model is fine for batch scoring.
    session: Mutex<Runner>,
    inputs: Vec<GraphInput>,
    /// Per graph input, the model feature of each of its columns.
    layout: Vec<Vec<usize>>,
    features: Vec<String>,
    output: OutputSpec,
    label_map: Option<LabelOutput>,
    strict: Vec<Strict>,
    /// Text labels read from the probabilities instead of the label output
    /// (see [`ArgmaxRule`]); `None`: every label comes from the graph.
    argmax: Option<ArgmaxRule>,
}

/// A session, and the run options that ask it for the probabilities only.
struct Runner {
    session: Session,
    probabilities_only: Option<RunOptions<HasSelectedOutputs>>,
}

/// How a row of probabilities names the class the graph's label output
/// would, for a `LinearClassifier` whose label and probabilities are the
/// graph's outputs ([`LinearHead`]) and whose labels are text: reading a
/// string per row from ONNX Runtime costs more than the graph's own run.
///
/// ONNX Runtime labels a row with the first class of greatest raw score
/// (a strict `>` scan) and computes the probabilities from those scores with
/// an increasing function (`NONE`: the scores themselves; `LOGISTIC`, `SOFTMAX`),
/// maybe divided by their sum (L1 `Normalizer`: one positive divisor per row).
/// So a class whose probability is above every other's by more than the
/// rounding and approximation error of those functions has the greatest
/// score, and is the label. A row closer than that (a tie, or 0.5 against
/// 0.5) is run again with the label output, and takes the graph's label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ArgmaxRule {
    /// The probabilities are the raw scores, bit for bit (`NONE`, no
    /// normalizer): the graph's own scan over them gives its label, ties included.
    First,
    /// The first greatest probability is the label when every other is more
    /// than `margin` below it; otherwise the graph says.
    Clear { margin: f32 },
}

/// The margin for `LOGISTIC` and `SOFTMAX` probabilities: their error in
/// ONNX Runtime (MLAS's approximations of exp and the logistic, a division,
/// the normalizer's) is a few units in the last place of numbers at most 1,
/// under 1e-6; a sklearn logistic regression has about 20 rows in a million
/// this close (measured), so asking the graph about them costs nothing.
const ARGMAX_MARGIN: f32 = 1e-5;

impl ArgmaxRule {
    /// The rule for a classifier whose probabilities `head` computes, if its
    /// labels can be read from them: its classes are `labels` in order, one
    /// score each (no second class added), and its transform is increasing.
    fn for_head(head: &LinearHead, labels: &[String]) -> Option<ArgmaxRule> {
        if head.classes != labels || head.targets != labels.len() || labels.len() < 2 {
            return None;
        }
        match (head.transform.as_str(), head.normalized) {
            ("NONE", false) => Some(ArgmaxRule::First),
            // A positive divisor keeps the order but may round two scores to one.
            ("NONE", true) => Some(ArgmaxRule::Clear { margin: 0.0 }),
            ("LOGISTIC" | "SOFTMAX", _) => Some(ArgmaxRule::Clear {
                margin: ARGMAX_MARGIN,
            }),
            // SOFTMAX_ZERO scales near-zero scores differently (not
            // increasing); PROBIT is not used for labels here.
            _ => None,
        }
    }

    /// The class of a row of probabilities, or `None`: ask the graph.
    #[inline]
    fn class(self, row: &[f32]) -> Option<usize> {
        let (&first, rest) = row.split_first()?;
        let (mut k, mut best) = (0, first);
        for (j, &p) in rest.iter().enumerate() {
            if p > best {
                best = p;
                k = j + 1;
            }
        }
        match self {
            ArgmaxRule::First => Some(k),
            // NaN anywhere fails the comparison: asked.
            ArgmaxRule::Clear { margin } => row
                .iter()
                .enumerate()
                .all(|(j, &p)| j == k || best - p > margin)
                .then_some(k),
        }
    }
}

fn unsupported(reason: impl Into<String>) -> ModelError {
    ModelError::OnnxUnsupported {
        reason: reason.into(),
    }
}

fn run_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::OnnxRun {
        reason: e.to_string(),
    }
}

/// A session over `bytes` (checked first for external data), quiet: the
/// errors it would log are returned and reported by mld itself.
fn session(bytes: &[u8], runtime: Option<&Path>) -> Result<(Session, OnnxInfo), ModelError> {
    // Read the graph ourselves first: a graph that points at files
    // outside itself is refused before ONNX Runtime would open them.
    let info = inspect(bytes)?;
    let env = environment(runtime)?;
    let session = Session::builder(&env)
        .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
        .and_then(|b| {
            b.with_log_level(ort::logging::LogLevel::Fatal)
                .map_err(Into::into)
        })
        .and_then(|mut b| b.commit_from_memory(bytes))
        .map_err(|e| unsupported(format!("ONNX Runtime refused the graph: {e}")))?;
    Ok((session, info))
}

/// The graph's inputs: each a `[N, width]` tensor of floats, doubles, int64s or strings.
fn graph_inputs(session: &Session) -> Result<Vec<GraphInput>, ModelError> {
    session
        .inputs()
        .iter()
        .map(|input| {
            let name = input.name().to_string();
            match input.dtype() {
                ValueType::Tensor { ty, shape, .. } => {
                    if shape.len() != 2 {
                        return Err(unsupported(format!(
                            "input {name:?} has {} dimensions, expected 2 ([rows, columns])",
                            shape.len()
                        )));
                    }
                    let ty = match ty {
                        TensorElementType::Float32 => InputType::F32,
                        TensorElementType::Float64 => InputType::F64,
                        TensorElementType::Int64 => InputType::I64,
                        TensorElementType::String => InputType::Str,
                        other => {
                            return Err(unsupported(format!(
                                "input {name:?} has element type {other:?}; expected float, double, int64 or string"
                            )));
                        }
                    };
                    let width = (shape[1] >= 0).then_some(shape[1] as usize);
                    Ok(GraphInput { name, ty, width })
                }
                other => Err(unsupported(format!(
                    "input {name:?} is {other:?}, expected a tensor"
                ))),
            }
        })
        .collect()
}

/// Finds the label (and probability) outputs of a classifier, or the value
/// output of a regressor.
fn output_spec(session: &Session) -> Result<OutputSpec, ModelError> {
    let outputs = session.outputs();
    let mut label = None;
    let mut probabilities = None;
    let mut values = Vec::new();
    for (i, o) in outputs.iter().enumerate() {
        match o.dtype() {
            ValueType::Tensor {
                ty: ty @ (TensorElementType::Int64 | TensorElementType::String),
                ..
            } if label.is_none() => label = Some((i, *ty == TensorElementType::Int64)),
            ValueType::Tensor {
                ty: ty @ (TensorElementType::Float32 | TensorElementType::Float64),
                shape,
                ..
            } => values.push((i, *ty == TensorElementType::Float64, shape.clone())),
            ValueType::Sequence(_) => {
                return Err(unsupported(format!(
                    "output {:?} is a sequence of maps (ZipMap); export with skl2onnx options={{'zipmap': False}}",
                    o.name()
                )));
            }
            _ => {}
        }
    }
    if let Some((label, int_labels)) = label {
        // A classifier: its float output of shape [N, classes] holds the probabilities.
        probabilities = values
            .iter()
            .find(|(_, f64, shape)| !f64 && shape.len() == 2)
            .map(|(i, _, _)| *i);
        return Ok(OutputSpec::Classes {
            label,
            int_labels,
            probabilities,
        });
    }
    let _ = probabilities;
    match values.as_slice() {
        [(output, f64, shape)] => {
            let width = match shape.len() {
                1 => 1,
                2 => shape[1],
                n => {
                    return Err(unsupported(format!(
                        "the graph's output has {n} dimensions; expected one value per row"
                    )));
                }
            };
            if width > 1 {
                return Err(unsupported(format!(
                    "the graph predicts {width} values per row; mld scores one value (or one class) per row"
                )));
            }
            Ok(OutputSpec::Value {
                output: *output,
                f64: *f64,
            })
        }
        [] => Err(unsupported(
            "no output mld can read: a classifier has an int64 or string label output, \
             a regressor one float output",
        )),
        _ => Err(unsupported(format!(
            "{} float outputs and no label output; mld scores one value (or one class) per row",
            values.len()
        ))),
    }
}

/// Which model features each graph input's columns take. One column per
/// input (as skl2onnx exports a `ColumnTransformer` given one input per
/// column): by name. Otherwise in order: the first input takes the first
/// features, and so on (an input holding several columns takes as many).
pub fn layout(inputs: &[GraphInput], features: &[String]) -> Result<Vec<Vec<usize>>, ModelError> {
    let names = || {
        inputs
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if inputs.len() > 1 && inputs.iter().all(|i| i.width == Some(1)) {
        if features.len() != inputs.len() {
            return Err(unsupported(format!(
                "the graph takes {} inputs of one column each ({}), but {} feature names were declared",
                inputs.len(),
                names(),
                features.len()
            )));
        }
        return inputs
            .iter()
            .map(|i| match features.iter().position(|f| *f == i.name) {
                Some(j) => Ok(vec![j]),
                None => Err(unsupported(format!(
                    "the graph's input {:?} has no feature of that name: with one input per column, \
                     the features are the inputs' names ({})",
                    i.name,
                    names()
                ))),
            })
            .collect();
    }
    let mut next = 0;
    let mut out = Vec::with_capacity(inputs.len());
    for (k, input) in inputs.iter().enumerate() {
        let width = match input.width {
            Some(w) => w,
            // An open width: the last input takes whatever features are left.
            None if k + 1 == inputs.len() => features.len().saturating_sub(next).max(1),
            None => {
                return Err(unsupported(format!(
                    "input {:?} does not say how many columns it takes; mld needs every input but \
                     the last to say",
                    input.name
                )));
            }
        };
        out.push((next..next + width).collect());
        next += width;
    }
    if next != features.len() {
        return Err(unsupported(if inputs.len() == 1 {
            format!(
                "input {:?} takes {next} features but {} feature names were declared",
                inputs[0].name,
                features.len()
            )
        } else {
            format!(
                "the graph's inputs ({}) take {next} columns but {} feature names were declared",
                names(),
                features.len()
            )
        }));
    }
    Ok(out)
}

/// What a graph takes and predicts, read before its features are named (at import).
#[derive(Debug)]
pub struct Described {
    pub inputs: Vec<GraphInput>,
    pub task: Task,
    pub info: OnnxInfo,
}

/// Reads a graph's interface: its inputs, whether it classifies or regresses,
/// its labels, operators and encoders.
pub fn describe(bytes: &[u8], runtime: Option<&Path>) -> Result<Described, ModelError> {
    let (session, info) = session(bytes, runtime)?;
    let inputs = graph_inputs(&session)?;
    let task = match output_spec(&session)? {
        OutputSpec::Classes { .. } => Task::Classification,
        OutputSpec::Value { .. } => Task::Regression,
    };
    Ok(Described { inputs, task, info })
}

impl OnnxPredictor {
    /// Builds a session over `bytes` and checks the graph's interface against
    /// the declared features (names and types), task and labels.
    pub fn load(
        bytes: &[u8],
        features: &[String],
        kinds: &[FeatureKind],
        task: Task,
        labels: &[String],
        runtime: Option<&Path>,
    ) -> Result<Self, ModelError> {
        let (session, info) = session(bytes, runtime)?;
        let inputs = graph_inputs(&session)?;
        let layout = layout(&inputs, features)?;
        for (input, cols) in inputs.iter().zip(&layout) {
            for &j in cols {
                let kind = kinds.get(j).copied().unwrap_or_default();
                if kind != input.ty.kind() {
                    return Err(unsupported(format!(
                        "feature {} is declared {kind} but the graph's input {:?} takes {}",
                        features[j],
                        input.name,
                        input.ty.name()
                    )));
                }
            }
        }
        let output = output_spec(&session)?;
        let label_map = match (output, task) {
            (
                OutputSpec::Classes {
                    int_labels: true, ..
                },
                Task::Classification,
            ) => {
                let keys = class_keys(&info.labels, labels);
                let values = keys
                    .iter()
                    .map(|l| {
                        l.parse::<i64>().map_err(|_| ModelError::Labels {
                            reason: format!(
                                "the graph emits integer labels but label {l:?} is not an integer"
                            ),
                        })
                    })
                    .collect::<Result<_, _>>()?;
                Some(LabelOutput::Int(values))
            }
            (OutputSpec::Classes { .. }, Task::Classification) => {
                Some(LabelOutput::Text(class_keys(&info.labels, labels).to_vec()))
            }
            (OutputSpec::Value { .. }, Task::Regression) => None,
            (OutputSpec::Classes { .. }, Task::Regression) => {
                return Err(unsupported(
                    "the model is declared a regressor but the graph outputs class labels",
                ));
            }
            (OutputSpec::Value { .. }, Task::Classification) => {
                return Err(unsupported(
                    "no label output (an int64 or string tensor): the graph is a regressor, \
                     but the model is declared a classifier",
                ));
            }
        };
        let strict = strict_features(&info.encoders, &inputs, &layout);
        let argmax = match (output, &label_map) {
            (
                OutputSpec::Classes {
                    label,
                    probabilities: Some(p),
                    ..
                },
                Some(LabelOutput::Text(m)),
            ) => {
                let outputs = session.outputs();
                let (label, p) = (outputs[label].name(), outputs[p].name());
                info.linear
                    .iter()
                    .find(|h| h.label == label && h.probabilities == p)
                    .and_then(|h| ArgmaxRule::for_head(h, m))
                    .map(|rule| (rule, p.to_string()))
            }
            _ => None,
        };
        let probabilities_only = match &argmax {
            Some((_, p)) => Some(
                RunOptions::new()
                    .map_err(run_err)?
                    .with_outputs(OutputSelector::no_default().with(p.as_str())),
            ),
            None => None,
        };
        Ok(OnnxPredictor {
            session: Mutex::new(Runner {
                session,
                probabilities_only,
            }),
            argmax: argmax.map(|(rule, _)| rule),
            inputs,
            layout,
            features: features.to_vec(),
            output,
            label_map,
            strict,
        })
    }

    /// Whether the graph has a probability output (one score per class).
    pub fn has_probabilities(&self) -> bool {
        matches!(
            self.output,
            OutputSpec::Classes {
                probabilities: Some(_),
                ..
            }
        )
    }

    /// Scores a chunk: rows its encoders would refuse (and a whole number
    /// the graph takes as int64 that is not one) are set aside first; the
    /// rest run together. Should the run still fail, the rows are run in
    /// halves until the failing ones are found: those are refused with the
    /// runtime's reason, the others scored.
    ///
    /// The outputs go to `outputs`, cleared first (a caller scoring chunk
    /// after chunk keeps one buffer); the refused rows are returned.
    pub(crate) fn score_into(
        &self,
        columns: &[usize],
        rows: Inputs<'_>,
        outputs: &mut Vec<Output>,
    ) -> Result<Vec<(usize, String)>, ModelError> {
        outputs.clear();
        // The usual case, a graph whose inputs any finite number fits: every
        // row runs at once, without a list of which.
        if !self.prechecks() {
            match self.run(columns, &rows, Selected::All(rows.rows()), outputs, false) {
                Ok(_) => return Ok(Vec::new()),
                Err(Failure::Model(e)) => return Err(e),
                Err(Failure::Run(_)) => outputs.clear(),
            }
        }
        let mut refused = Vec::new();
        let mut accepted = Vec::with_capacity(rows.rows());
        for r in 0..rows.rows() {
            match self.precheck(columns, &rows, r) {
                Some(why) => refused.push((r, why)),
                None => accepted.push(r),
            }
        }
        let mut failed = Vec::new();
        self.run_bisecting(columns, &rows, &accepted, outputs, &mut failed)?;
        if !failed.is_empty() {
            refused.extend(failed);
            refused.sort_by_key(|(r, _)| *r);
            // Outputs are in accepted order minus the failed rows: already in row order.
        }
        Ok(refused)
    }

    /// Whether some row could be refused before the graph sees it: a
    /// strict encoder, or an int64 input.
    fn prechecks(&self) -> bool {
        !self.strict.is_empty() || self.inputs.iter().any(|i| i.ty == InputType::I64)
    }

    /// Why row `r` cannot go to the graph, if it cannot.
    fn precheck(&self, columns: &[usize], rows: &Inputs<'_>, r: usize) -> Option<String> {
        for s in &self.strict {
            let value = rows.text(columns[s.feature], r).ok()?;
            // NULL reaches the graph as "": an encoder that knows "" takes it.
            let known = s
                .categories
                .binary_search_by(|c| c.as_str().cmp(value.unwrap_or("")))
                .is_ok();
            if !known {
                let name = &self.features[s.feature];
                return Some(match value {
                    None => format!(
                        "column {name} is NULL, and the model's encoder refuses values it did not \
                         see in training (handle_unknown='error')"
                    ),
                    Some(v) => format!(
                        "column {name} is {:?}, a category the model's encoder did not see in \
                         training; it refuses those (handle_unknown='error')",
                        shown(v)
                    ),
                });
            }
        }
        for (input, cols) in self.inputs.iter().zip(&self.layout) {
            if input.ty == InputType::I64 {
                for &j in cols {
                    let v = rows.numbers[[r, columns[j]]];
                    if v.fract() != 0.0 || v.abs() > 9.0e15 {
                        return Some(format!(
                            "column {} is {v}; the model takes it as a whole number",
                            self.features[j]
                        ));
                    }
                }
            }
        }
        None
    }

    /// Runs rows `idx`; on a failed run, halves until the failing rows are
    /// single ones, which go to `failed` with the runtime's reason.
    fn run_bisecting(
        &self,
        columns: &[usize],
        rows: &Inputs<'_>,
        idx: &[usize],
        outputs: &mut Vec<Output>,
        failed: &mut Vec<(usize, String)>,
    ) -> Result<(), ModelError> {
        if idx.is_empty() {
            return Ok(());
        }
        let before = outputs.len();
        match self.run(columns, rows, Selected::Rows(idx), outputs, false) {
            Ok(_) => Ok(()),
            Err(Failure::Run(e)) if idx.len() == 1 => {
                outputs.truncate(before);
                failed.push((idx[0], format!("the model refused the row: {e}")));
                Ok(())
            }
            Err(Failure::Run(_)) => {
                outputs.truncate(before);
                let (a, b) = idx.split_at(idx.len() / 2);
                self.run_bisecting(columns, rows, a, outputs, failed)?;
                self.run_bisecting(columns, rows, b, outputs, failed)
            }
            Err(Failure::Model(e)) => Err(e),
        }
    }

    /// Every class's probability for each row, from the graph's probability
    /// output (`None` when the graph has none).
    pub fn probabilities(
        &self,
        columns: &[usize],
        rows: Inputs<'_>,
    ) -> Result<Option<Vec<Vec<f64>>>, ModelError> {
        let mut outputs = Vec::with_capacity(rows.rows());
        let probabilities = self
            .run(
                columns,
                &rows,
                Selected::All(rows.rows()),
                &mut outputs,
                true,
            )
            .map_err(|e| match e {
                Failure::Run(e) => run_err(e),
                Failure::Model(e) => e,
            })?;
        Ok(probabilities.map(|(width, probs)| {
            probs
                .chunks(width.max(1))
                .map(|row| row.iter().map(|p| f64::from(*p)).collect())
                .collect()
        }))
    }

    /// The graph's inputs for the `selected` rows, one tensor per input.
    fn tensors(
        &self,
        columns: &[usize],
        rows: &Inputs<'_>,
        selected: Selected<'_>,
    ) -> Result<Vec<SessionInputValue<'static>>, ModelError> {
        let n = selected.len();
        // A standard-layout batch is read as one slice, a row at a time.
        let flat = rows.numbers.as_slice();
        let width = rows.numbers.ncols();
        let mut out = Vec::with_capacity(self.inputs.len());
        for (input, cols) in self.inputs.iter().zip(&self.layout) {
            let shape = [n as i64, cols.len() as i64];
            let at: Vec<usize> = cols.iter().map(|&j| columns[j]).collect();
            // Each selected row's values of this input's columns, in order.
            fn gather<T>(
                rows: &Inputs<'_>,
                flat: Option<&[f64]>,
                width: usize,
                at: &[usize],
                selected: Selected<'_>,
                convert: impl Fn(f64) -> T,
            ) -> Vec<T> {
                let mut data = Vec::with_capacity(selected.len() * at.len());
                let every_column = at.len() == width && at.iter().enumerate().all(|(i, &c)| i == c);
                match (flat, selected) {
                    // Every row, every column in order: one straight pass.
                    (Some(flat), Selected::All(n)) if every_column => {
                        data.extend(flat[..n * width].iter().map(|&v| convert(v)))
                    }
                    (Some(flat), _) => selected.for_each(|r| {
                        let row = &flat[r * width..(r + 1) * width];
                        data.extend(at.iter().map(|&c| convert(row[c])));
                    }),
                    (None, _) => selected.for_each(|r| {
                        data.extend(at.iter().map(|&c| convert(rows.numbers[[r, c]])));
                    }),
                }
                data
            }
            let value: SessionInputValue<'static> = match input.ty {
                InputType::F32 => {
                    let data = gather(rows, flat, width, &at, selected, |v| v as f32);
                    Tensor::from_array((shape, data)).map_err(run_err)?.into()
                }
                InputType::F64 => {
                    let data = gather(rows, flat, width, &at, selected, |v| v);
                    Tensor::from_array((shape, data)).map_err(run_err)?.into()
                }
                InputType::I64 => {
                    let data = gather(rows, flat, width, &at, selected, |v| v as i64);
                    Tensor::from_array((shape, data)).map_err(run_err)?.into()
                }
                InputType::Str => {
                    let empty: std::sync::Arc<str> = std::sync::Arc::from("");
                    let mut data = Vec::with_capacity(n * cols.len());
                    let mut missing = None;
                    selected.for_each(|r| {
                        for &j in cols {
                            match rows.text_shared(columns[j], r) {
                                // NULL reaches the graph as "" (see the README).
                                Ok(text) => data.push(text.unwrap_or(&empty).clone()),
                                Err(()) => missing = Some(j),
                            }
                        }
                    });
                    if let Some(j) = missing {
                        return Err(ModelError::TextExpected {
                            feature: self.features[j].clone(),
                        });
                    }
                    Tensor::from_string_array((shape, data.as_slice()))
                        .map_err(run_err)?
                        .into()
                }
            };
            out.push(value);
        }
        Ok(out)
    }

    /// Runs the graph on the `selected` rows, appending an output per row to
    /// `outputs` (none if it fails); with `want_probabilities`, also returns
    /// the probability output (row width, values) when the graph has one.
    fn run(
        &self,
        columns: &[usize],
        rows: &Inputs<'_>,
        selected: Selected<'_>,
        outputs: &mut Vec<Output>,
        want_probabilities: bool,
    ) -> Result<Option<(usize, Vec<f32>)>, Failure> {
        match self.argmax {
            Some(rule) => {
                self.run_argmax(rule, columns, rows, selected, outputs, want_probabilities)
            }
            None => self.run_labelled(columns, rows, selected, outputs, want_probabilities),
        }
    }

    /// Whether text labels are read from the probabilities ([`ArgmaxRule`]).
    pub(crate) fn labels_from_probabilities(&self) -> bool {
        self.argmax.is_some()
    }

    /// [`Self::run`] for a graph whose labels its probabilities say
    /// ([`ArgmaxRule`]): the graph is asked for its probabilities only, and
    /// the rows they leave in doubt are run again with the label output.
    fn run_argmax(
        &self,
        rule: ArgmaxRule,
        columns: &[usize],
        rows: &Inputs<'_>,
        selected: Selected<'_>,
        outputs: &mut Vec<Output>,
        want_probabilities: bool,
    ) -> Result<Option<(usize, Vec<f32>)>, Failure> {
        let n = selected.len();
        let width = self.label_map.as_ref().map_or(0, LabelOutput::len);
        let tensors = self
            .tensors(columns, rows, selected)
            .map_err(Failure::Model)?;
        let model = |e: ModelError| Failure::Model(e);
        let start = outputs.len();
        // Positions (in `selected`) of the rows the probabilities leave in doubt.
        let mut doubt = Vec::new();
        let mut kept = None;
        {
            let mut runner = self.session.lock().unwrap_or_else(|p| p.into_inner());
            let Runner {
                session,
                probabilities_only: Some(options),
            } = &mut *runner
            else {
                return Err(model(run_err(
                    "a graph read by its probabilities loaded without its run options",
                )));
            };
            let ran = session
                .run_with_options(tensors.as_slice(), options)
                .map_err(|e| Failure::Run(e.to_string()))?;
            let (shape, probs) = ran[0]
                .try_extract_tensor::<f32>()
                .map_err(|e| model(run_err(e)))?;
            let dims: Vec<i64> = shape.iter().copied().collect();
            if dims != [n as i64, width as i64] || probs.len() != n * width {
                return Err(model(run_err(format!(
                    "the graph returned probabilities of shape {dims:?}, expected [{n}, {width}]"
                ))));
            }
            outputs.reserve(n);
            for (i, row) in probs.chunks_exact(width.max(1)).enumerate() {
                let index = rule.class(row).unwrap_or_else(|| {
                    doubt.push(i);
                    0
                });
                outputs.push(Output::Class {
                    index,
                    score: f64::from(row[index]),
                });
            }
            if want_probabilities || !doubt.is_empty() {
                kept = Some(probs.to_vec());
            }
        }
        if !doubt.is_empty() {
            let probs = kept.as_deref().unwrap_or_default();
            let asked: Vec<usize> = doubt.iter().map(|&i| selected.row(i)).collect();
            let mut labelled = Vec::with_capacity(asked.len());
            if let Err(e) =
                self.run_labelled(columns, rows, Selected::Rows(&asked), &mut labelled, false)
            {
                outputs.truncate(start);
                return Err(e);
            }
            for (&i, o) in doubt.iter().zip(labelled) {
                if let Output::Class { index, .. } = o {
                    // The score from the same run as every other row's.
                    outputs[start + i] = Output::Class {
                        index,
                        score: f64::from(probs[i * width + index]),
                    };
                }
            }
        }
        Ok(kept.filter(|_| want_probabilities).map(|p| (width, p)))
    }

    /// [`Self::run`] reading each row's label from the graph's label output.
    fn run_labelled(
        &self,
        columns: &[usize],
        rows: &Inputs<'_>,
        selected: Selected<'_>,
        outputs: &mut Vec<Output>,
        want_probabilities: bool,
    ) -> Result<Option<(usize, Vec<f32>)>, Failure> {
        let n = selected.len();
        let tensors = self
            .tensors(columns, rows, selected)
            .map_err(Failure::Model)?;
        let mut runner = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let ran = runner
            .session
            .run(tensors.as_slice())
            .map_err(|e| Failure::Run(e.to_string()))?;
        // Every output is checked against the batch before it is indexed:
        // a graph may return fewer (or more) rows than it was given.
        let rows_of = |what: &str, got: usize| {
            if got == n {
                Ok(())
            } else {
                Err(Failure::Model(run_err(format!(
                    "the graph returned {got} {what} for {n} rows"
                ))))
            }
        };
        let model = |e: ModelError| Failure::Model(e);
        match (self.output, &self.label_map) {
            (OutputSpec::Value { output, f64 }, _) => {
                if f64 {
                    let (_, v) = ran[output]
                        .try_extract_tensor::<f64>()
                        .map_err(|e| model(run_err(e)))?;
                    rows_of("values", v.len())?;
                    outputs.extend(v.iter().map(|&x| Output::Value(x)));
                } else {
                    let (_, v) = ran[output]
                        .try_extract_tensor::<f32>()
                        .map_err(|e| model(run_err(e)))?;
                    rows_of("values", v.len())?;
                    outputs.extend(v.iter().map(|&x| Output::Value(f64::from(x))));
                }
                Ok(None)
            }
            (
                OutputSpec::Classes {
                    label,
                    probabilities,
                    ..
                },
                Some(label_map),
            ) => {
                // The probability output, checked, before any row is taken.
                let probs = match probabilities {
                    Some(p) => {
                        let (shape, probs) = ran[p]
                            .try_extract_tensor::<f32>()
                            .map_err(|e| model(run_err(e)))?;
                        let dims: Vec<i64> = shape.iter().copied().collect();
                        let (prob_rows, width) = match dims[..] {
                            [r, w] if r >= 0 && w >= 0 => (r as usize, w as usize),
                            _ => {
                                return Err(model(run_err(format!(
                                    "the graph returned probabilities of shape {dims:?}, expected [{n}, classes]"
                                ))));
                            }
                        };
                        rows_of("rows of probabilities", prob_rows)?;
                        if prob_rows.checked_mul(width) != Some(probs.len()) {
                            return Err(model(run_err(format!(
                                "the graph returned {} probabilities for shape {dims:?}",
                                probs.len()
                            ))));
                        }
                        Some((width, probs))
                    }
                    None => None,
                };
                let score = |r: usize, c: usize| match probs {
                    Some((width, probs)) if c < width => f64::from(probs[r * width + c]),
                    _ => 1.0,
                };
                let start = outputs.len();
                // Labels repeat: the previous row's class is tried first.
                let mut last = 0usize;
                let failed = match label_map {
                    LabelOutput::Int(m) => {
                        let (_, values) = ran[label]
                            .try_extract_tensor::<i64>()
                            .map_err(|e| model(run_err(e)))?;
                        rows_of("labels", values.len())?;
                        let unknown = |v: &i64| format!("the graph emitted unknown label {v}");
                        if m.iter().enumerate().all(|(i, &l)| l == i as i64) {
                            // Classes 0, 1, …: a label is its class's index.
                            push_dense(m.len(), values, &score, outputs, unknown)
                        } else {
                            push_classes(m, values.iter(), &score, &mut last, outputs, unknown)
                        }
                    }
                    LabelOutput::Text(m) => {
                        let (_, values) = ran[label]
                            .try_extract_strings()
                            .map_err(|e| model(run_err(e)))?;
                        rows_of("labels", values.len())?;
                        push_classes(m, values.iter(), &score, &mut last, outputs, |v| {
                            format!("the graph emitted unknown label {v:?}")
                        })
                    }
                };
                if let Some(why) = failed {
                    outputs.truncate(start);
                    return Err(model(run_err(why)));
                }
                Ok(match probs {
                    Some((width, probs)) if want_probabilities => Some((width, probs.to_vec())),
                    _ => None,
                })
            }
            (OutputSpec::Classes { .. }, None) => Err(model(run_err(
                "a classifier graph loaded without its labels",
            ))),
        }
    }
}

/// Each row's label (classes `0..n`, so a label is its class's index) as
/// its class with `score(row, class)`, pushed to `outputs`; the first label
/// out of range stops it, described by `unknown`.
fn push_dense(
    n: usize,
    values: &[i64],
    score: &impl Fn(usize, usize) -> f64,
    outputs: &mut Vec<Output>,
    unknown: impl Fn(&i64) -> String,
) -> Option<String> {
    outputs.reserve(values.len());
    for (r, v) in values.iter().enumerate() {
        match usize::try_from(*v).ok().filter(|c| *c < n) {
            Some(c) => outputs.push(Output::Class {
                index: c,
                score: score(r, c),
            }),
            None => return Some(unknown(v)),
        }
    }
    None
}

/// Each row's label as its class with `score(row, class)`, pushed to
/// `outputs`; the first label `labels` does not hold stops it, described
/// by `unknown`.
fn push_classes<'a, T: PartialEq + 'a, L: std::borrow::Borrow<T>>(
    labels: &[L],
    values: impl Iterator<Item = &'a T>,
    score: &impl Fn(usize, usize) -> f64,
    last: &mut usize,
    outputs: &mut Vec<Output>,
    unknown: impl Fn(&T) -> String,
) -> Option<String> {
    for (r, v) in values.enumerate() {
        match class_of(labels, v, last) {
            Some(c) => outputs.push(Output::Class {
                index: c,
                score: score(r, c),
            }),
            None => return Some(unknown(v)),
        }
    }
    None
}

/// The index of `value` among `labels`, trying `*last` (the previous row's) first.
#[inline]
fn class_of<T: PartialEq + ?Sized, L: std::borrow::Borrow<T>>(
    labels: &[L],
    value: &T,
    last: &mut usize,
) -> Option<usize> {
    if labels.get(*last).is_some_and(|l| l.borrow() == value) {
        return Some(*last);
    }
    let found = labels.iter().position(|l| l.borrow() == value)?;
    *last = found;
    Some(found)
}

/// Which rows of a chunk a run takes: all of them, or those listed.
#[derive(Clone, Copy)]
enum Selected<'a> {
    All(usize),
    Rows(&'a [usize]),
}

impl Selected<'_> {
    /// The chunk row at position `i` of the selection.
    fn row(self, i: usize) -> usize {
        match self {
            Selected::All(_) => i,
            Selected::Rows(idx) => idx[i],
        }
    }

    fn len(self) -> usize {
        match self {
            Selected::All(n) => n,
            Selected::Rows(idx) => idx.len(),
        }
    }

    fn for_each(self, mut f: impl FnMut(usize)) {
        match self {
            Selected::All(n) => (0..n).for_each(f),
            Selected::Rows(idx) => idx.iter().for_each(|&r| f(r)),
        }
    }
}

/// Why a run gave nothing: the runtime refused these rows (which another
/// split of them may not be), or the model itself is at fault.
enum Failure {
    Run(String),
    Model(ModelError),
}

/// The graph's own class values when it names as many as the labels given
/// (they match its label output; `labels` rename them position by position), else `labels`.
fn class_keys<'a>(graph: &'a [String], labels: &'a [String]) -> &'a [String] {
    if graph.len() == labels.len() && !graph.is_empty() {
        graph
    } else {
        labels
    }
}

/// A value for messages: at most 40 characters.
fn shown(v: &str) -> String {
    let mut s: String = v.chars().take(40).collect();
    if s.len() < v.len() {
        s.push('…');
    }
    s
}

/// The features whose encoders refuse unknown categories, from the traced encoders.
fn strict_features(
    encoders: &[TracedEncoder],
    inputs: &[GraphInput],
    layout: &[Vec<usize>],
) -> Vec<Strict> {
    let mut out = Vec::new();
    for e in encoders.iter().filter(|e| e.strict) {
        let Some(k) = inputs.iter().position(|i| i.name == e.input) else {
            continue;
        };
        let cols: Vec<usize> = match &e.columns {
            Some(c) => c.clone(),
            None => (0..layout[k].len()).collect(),
        };
        for c in cols {
            if let Some(&feature) = layout[k].get(c) {
                out.push(Strict {
                    feature,
                    categories: e.categories.clone(),
                });
            }
        }
    }
    out
}

/// For each text feature, a category its encoder knows (for a check row at
/// import), else "".
pub fn sample_categories(
    encoders: &[TracedEncoder],
    inputs: &[GraphInput],
    layout: &[Vec<usize>],
    n_features: usize,
) -> Vec<String> {
    let mut out = vec![String::new(); n_features];
    for e in encoders {
        let Some(k) = inputs.iter().position(|i| i.name == e.input) else {
            continue;
        };
        let Some(first) = e.categories.first() else {
            continue;
        };
        let cols: Vec<usize> = match &e.columns {
            Some(c) => c.clone(),
            None => (0..layout[k].len()).collect(),
        };
        for c in cols {
            if let Some(&j) = layout[k].get(c) {
                out[j] = first.clone();
            }
        }
    }
    out
}

/// How deep graphs may nest (subgraphs of `If`/`Loop`/`Scan` attributes):
/// far beyond any real model, and a bound on the recursion a crafted file can cause.
const MAX_GRAPH_DEPTH: usize = 32;

/// Refuses tensors whose data lives in another file (`data_location =
/// EXTERNAL` or `external_data` entries): ONNX Runtime would open that path
/// as the daemon, and an imported model must be the bytes it was given.
fn check_tensor(tensor: &[u8]) -> Result<(), ModelError> {
    let bad = || unsupported("not a valid ONNX file (tensor)");
    let mut name = String::new();
    let mut external = false;
    for f in proto::fields(tensor).map_err(|_| bad())? {
        match f {
            (8, proto::Field::Bytes(b)) => name = String::from_utf8_lossy(b).into_owned(),
            (13, proto::Field::Bytes(_)) | (14, proto::Field::Varint(1)) => external = true,
            _ => {}
        }
    }
    if external {
        return Err(unsupported(format!(
            "tensor {name:?} keeps its data in an external file; mld imports self-contained graphs only \
             (save the model without external data: onnx.save_model(model, path, save_as_external_data=False))"
        )));
    }
    Ok(())
}

fn check_sparse_tensor(sparse: &[u8]) -> Result<(), ModelError> {
    let bad = || unsupported("not a valid ONNX file (sparse tensor)");
    for f in proto::fields(sparse).map_err(|_| bad())? {
        if let (1 | 2, proto::Field::Bytes(t)) = f {
            check_tensor(t)?;
        }
    }
    Ok(())
}

/// Every tensor of a graph, its nodes' attributes and their subgraphs.
fn check_graph(graph: &[u8], depth: usize) -> Result<(), ModelError> {
    if depth > MAX_GRAPH_DEPTH {
        return Err(unsupported(format!(
            "graphs nest more than {MAX_GRAPH_DEPTH} deep"
        )));
    }
    let bad = || unsupported("not a valid ONNX file (graph)");
    for f in proto::fields(graph).map_err(|_| bad())? {
        match f {
            (1, proto::Field::Bytes(node)) => check_node(node, depth)?,
            (5, proto::Field::Bytes(t)) => check_tensor(t)?,
            (15, proto::Field::Bytes(t)) => check_sparse_tensor(t)?,
            _ => {}
        }
    }
    Ok(())
}

fn check_node(node: &[u8], depth: usize) -> Result<(), ModelError> {
    let bad = || unsupported("not a valid ONNX file (node)");
    for f in proto::fields(node).map_err(|_| bad())? {
        let (5, proto::Field::Bytes(attr)) = f else {
            continue;
        };
        for a in proto::fields(attr).map_err(|_| bad())? {
            match a {
                (5 | 10, proto::Field::Bytes(t)) => check_tensor(t)?,
                (6 | 11, proto::Field::Bytes(g)) => check_graph(g, depth + 1)?,
                (22 | 23, proto::Field::Bytes(t)) => check_sparse_tensor(t)?,
                _ => {}
            }
        }
    }
    Ok(())
}

/// Reads the class labels, operator list, producer and text encoders from
/// the ONNX protobuf, and refuses a graph whose tensors point at external files.
///
/// skl2onnx puts the classes on the classifier node as `classlabels_strings` or
/// `classlabels_int64s`, and a `OneHotEncoder`'s categories and its
/// `handle_unknown` (as `zeros`) on the encoder node; we read them with a
/// minimal protobuf walk rather than pulling in a full ONNX schema crate for
/// a few fields.
pub fn inspect(bytes: &[u8]) -> Result<OnnxInfo, ModelError> {
    let bad = |what: &str| unsupported(format!("not a valid ONNX file ({what})"));
    let mut info = OnnxInfo {
        labels: Vec::new(),
        ops: Vec::new(),
        producer: String::new(),
        encoders: Vec::new(),
        linear: Vec::new(),
    };
    let mut graph = None;
    for field in proto::fields(bytes).map_err(|_| bad("model"))? {
        match field {
            (2, proto::Field::Bytes(b)) => info.producer = String::from_utf8_lossy(b).into_owned(),
            (7, proto::Field::Bytes(b)) => graph = Some(b),
            _ => {}
        }
    }
    let graph = graph.ok_or_else(|| bad("no graph"))?;
    check_graph(graph, 0)?;
    // Functions (ModelProto.functions) hold nodes too.
    for field in proto::fields(bytes).map_err(|_| bad("model"))? {
        if let (25, proto::Field::Bytes(function)) = field {
            for f in proto::fields(function).map_err(|_| bad("function"))? {
                if let (7, proto::Field::Bytes(node)) = f {
                    check_node(node, 1)?;
                }
            }
        }
    }
    let mut nodes = Vec::new();
    let mut initializers: Vec<(String, Vec<i64>)> = Vec::new();
    let mut inputs: Vec<String> = Vec::new();
    for field in proto::fields(graph).map_err(|_| bad("graph"))? {
        match field {
            (1, proto::Field::Bytes(node)) => {
                nodes.push(parse_node(node).map_err(|_| bad("node"))?)
            }
            (5, proto::Field::Bytes(t)) => {
                if let Some(init) = int_tensor(t) {
                    initializers.push(init);
                }
            }
            (11, proto::Field::Bytes(vi)) => {
                for f in proto::fields(vi).map_err(|_| bad("input"))? {
                    if let (1, proto::Field::Bytes(b)) = f {
                        inputs.push(String::from_utf8_lossy(b).into_owned());
                    }
                }
            }
            _ => {}
        }
    }
    for node in &nodes {
        if !info.ops.contains(&node.op) {
            info.ops.push(node.op.clone());
        }
        if info.labels.is_empty() {
            if let Some(a) = node.attribute("classlabels_strings") {
                info.labels = a.strings.clone();
            } else if let Some(a) = node
                .attribute("classlabels_int64s")
                .or_else(|| node.attribute("classlabels_ints"))
            {
                info.labels = a.ints.iter().map(|v| v.to_string()).collect();
            }
        }
    }
    for node in nodes.iter().filter(|n| n.op == "LinearClassifier") {
        let [label, scores] = node.outputs.as_slice() else {
            continue;
        };
        let classes = match node.attribute("classlabels_strings") {
            Some(a) => a.strings.clone(),
            None => node
                .attribute("classlabels_ints")
                .map(|a| a.ints.iter().map(|v| v.to_string()).collect())
                .unwrap_or_default(),
        };
        // skl2onnx divides the probabilities by their sum in a `Normalizer`.
        let normalizer = nodes.iter().find(|n| {
            n.op == "Normalizer"
                && n.inputs.first() == Some(scores)
                && n.attribute("norm").and_then(|a| a.text.as_deref()) == Some("L1")
        });
        info.linear.push(LinearHead {
            label: label.clone(),
            probabilities: normalizer
                .and_then(|n| n.outputs.first())
                .unwrap_or(scores)
                .clone(),
            classes,
            targets: node.attribute("intercepts").map_or(0, |a| a.floats),
            transform: node
                .attribute("post_transform")
                .and_then(|a| a.text.clone())
                .unwrap_or_else(|| "NONE".to_string()),
            normalized: normalizer.is_some(),
        });
    }
    for node in nodes.iter().filter(|n| n.op == "OneHotEncoder") {
        let Some(categories) = node.attribute("cats_strings").map(|a| a.strings.clone()) else {
            continue;
        };
        let Some((input, columns)) = node
            .inputs
            .first()
            .and_then(|x| trace(x, &nodes, &initializers, &inputs, 0))
        else {
            continue;
        };
        let mut categories = categories;
        categories.sort();
        categories.dedup();
        info.encoders.push(TracedEncoder {
            input,
            columns,
            categories,
            // ONNX's default is zeros = 1: unknown categories encode as zeros.
            strict: node.attribute("zeros").and_then(|a| a.int) == Some(0),
        });
    }
    Ok(info)
}

/// A node of the graph, as far as mld reads it.
struct Node {
    op: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    attributes: Vec<Attribute>,
}

struct Attribute {
    name: String,
    int: Option<i64>,
    ints: Vec<i64>,
    strings: Vec<String>,
    /// A single string (`s`: `post_transform`, `norm`).
    text: Option<String>,
    /// How many floats it holds (`floats`: a `LinearClassifier`'s `intercepts`).
    floats: usize,
}

impl Node {
    fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

fn parse_node(node: &[u8]) -> Result<Node, proto::Malformed> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut n = Node {
        op: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        attributes: Vec::new(),
    };
    for f in proto::fields(node)? {
        match f {
            (1, proto::Field::Bytes(b)) => n.inputs.push(text(b)),
            (2, proto::Field::Bytes(b)) => n.outputs.push(text(b)),
            (4, proto::Field::Bytes(b)) => n.op = text(b),
            (5, proto::Field::Bytes(attr)) => {
                let mut a = Attribute {
                    name: String::new(),
                    int: None,
                    ints: Vec::new(),
                    strings: Vec::new(),
                    text: None,
                    floats: 0,
                };
                for f in proto::fields(attr)? {
                    match f {
                        (1, proto::Field::Bytes(b)) => a.name = text(b),
                        (3, proto::Field::Varint(v)) => a.int = Some(v as i64),
                        (4, proto::Field::Bytes(b)) => a.text = Some(text(b)),
                        (7, proto::Field::Fixed) => a.floats += 1,
                        (7, proto::Field::Bytes(packed)) => a.floats += packed.len() / 4,
                        (8, proto::Field::Varint(v)) => a.ints.push(v as i64),
                        (8, proto::Field::Bytes(packed)) => a
                            .ints
                            .extend(proto::packed_varints(packed)?.into_iter().map(|v| v as i64)),
                        (9, proto::Field::Bytes(b)) => a.strings.push(text(b)),
                        _ => {}
                    }
                }
                n.attributes.push(a);
            }
            _ => {}
        }
    }
    Ok(n)
}

/// An int64 initializer's name and values (from `int64_data` or `raw_data`).
fn int_tensor(t: &[u8]) -> Option<(String, Vec<i64>)> {
    const INT64: u64 = 7;
    let mut name = None;
    let mut ty = 0;
    let mut values = Vec::new();
    let mut raw = None;
    for f in proto::fields(t).ok()? {
        match f {
            (2, proto::Field::Varint(v)) => ty = v,
            (7, proto::Field::Varint(v)) => values.push(v as i64),
            (7, proto::Field::Bytes(p)) => {
                values.extend(proto::packed_varints(p).ok()?.into_iter().map(|v| v as i64))
            }
            (8, proto::Field::Bytes(b)) => name = Some(String::from_utf8_lossy(b).into_owned()),
            (9, proto::Field::Bytes(b)) => raw = Some(b),
            _ => {}
        }
    }
    if ty != INT64 {
        return None;
    }
    if let Some(raw) = raw {
        values = raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
    }
    Some((name?, values))
}

/// The graph input (and which of its columns) a tensor comes from, through
/// the operators skl2onnx puts between an input and an encoder: column
/// selections (`Gather` on axis 1, `ArrayFeatureExtractor`) and reshapes.
fn trace(
    name: &str,
    nodes: &[Node],
    initializers: &[(String, Vec<i64>)],
    inputs: &[String],
    depth: usize,
) -> Option<(String, Option<Vec<usize>>)> {
    if inputs.iter().any(|i| i == name) {
        return Some((name.to_string(), None));
    }
    if depth > 16 {
        return None;
    }
    let node = nodes.iter().find(|n| n.outputs.iter().any(|o| o == name))?;
    match node.op.as_str() {
        "Identity" | "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Cast" => {
            trace(node.inputs.first()?, nodes, initializers, inputs, depth + 1)
        }
        "Gather" | "ArrayFeatureExtractor" => {
            if node.op == "Gather" && node.attribute("axis").and_then(|a| a.int) != Some(1) {
                return None;
            }
            let (source, None) =
                trace(node.inputs.first()?, nodes, initializers, inputs, depth + 1)?
            else {
                return None;
            };
            let index_name = node.inputs.get(1)?;
            let indices = &initializers.iter().find(|(n, _)| n == index_name)?.1;
            let columns = indices
                .iter()
                .map(|&i| usize::try_from(i).ok())
                .collect::<Option<Vec<usize>>>()?;
            Some((source, Some(columns)))
        }
        _ => None,
    }
}

/// Just enough protobuf wire format to walk ONNX's ModelProto.
mod proto {
    pub enum Field<'a> {
        Varint(u64),
        Bytes(&'a [u8]),
        Fixed,
    }

    pub struct Malformed;

    fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, Malformed> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *buf.get(*pos).ok_or(Malformed)?;
            *pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Malformed)
    }

    /// The top-level fields of one message, as (field number, value).
    pub fn fields(buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, Malformed> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < buf.len() {
            let key = varint(buf, &mut pos)?;
            let field = match key & 7 {
                0 => Field::Varint(varint(buf, &mut pos)?),
                1 => {
                    pos += 8;
                    Field::Fixed
                }
                2 => {
                    let len = usize::try_from(varint(buf, &mut pos)?).map_err(|_| Malformed)?;
                    let end = pos
                        .checked_add(len)
                        .filter(|e| *e <= buf.len())
                        .ok_or(Malformed)?;
                    let b = &buf[pos..end];
                    pos = end;
                    Field::Bytes(b)
                }
                5 => {
                    pos += 4;
                    Field::Fixed
                }
                _ => return Err(Malformed),
            };
            if pos > buf.len() {
                return Err(Malformed);
            }
            out.push((key >> 3, field));
        }
        Ok(out)
    }

    pub fn packed_varints(buf: &[u8]) -> Result<Vec<u64>, Malformed> {
        let mut pos = 0;
        let mut out = Vec::new();
        while pos < buf.len() {
            out.push(varint(buf, &mut pos)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![((number << 3) | 2) as u8];
        let mut len = bytes.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn reads_labels_ops_and_producer_from_a_handmade_model() {
        // attribute { name: "classlabels_int64s", ints: [3, 7] (packed) }
        let mut attr = field(1, b"classlabels_int64s");
        attr.extend(field(8, &[3, 7]));
        let mut node = field(4, b"TreeEnsembleClassifier");
        node.extend(field(5, &attr));
        let graph = field(1, &node);
        let mut model = field(2, b"skl2onnx");
        model.extend(field(7, &graph));
        let info = inspect(&model).ok().unwrap();
        assert_eq!(info.labels, ["3", "7"]);
        assert_eq!(info.ops, ["TreeEnsembleClassifier"]);
        assert_eq!(info.producer, "skl2onnx");
    }

    #[test]
    fn external_data_is_refused_even_inside_a_subgraph() {
        // tensor { name: "w", data_location: EXTERNAL }
        let mut tensor = field(8, b"w");
        tensor.extend([(14 << 3) as u8, 1]);
        let inner_graph = field(5, &tensor);
        // node { op_type: "If", attribute { name: "then_branch", g: inner_graph } }
        let mut attr = field(1, b"then_branch");
        attr.extend(field(6, &inner_graph));
        let mut node = field(4, b"If");
        node.extend(field(5, &attr));
        let model = field(7, &field(1, &node));
        let err = inspect(&model).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"w\" keeps its data in an external file"),
            "{err}"
        );
        // `external_data` entries alone say the same.
        let mut tensor = field(8, b"v");
        tensor.extend(field(13, &field(1, b"location")));
        let model = field(7, &field(5, &tensor));
        assert!(inspect(&model).is_err());
        // Subgraphs nested past the bound are refused, not recursed into.
        let mut graph = field(2, b"g");
        for _ in 0..40 {
            let mut attr = field(1, b"body");
            attr.extend(field(6, &graph));
            let mut node = field(4, b"Loop");
            node.extend(field(5, &attr));
            graph = field(1, &node);
        }
        let err = inspect(&field(7, &graph)).unwrap_err();
        assert!(err.to_string().contains("nest more than"), "{err}");
    }

    fn head(transform: &str, normalized: bool, targets: usize) -> LinearHead {
        LinearHead {
            label: "label".into(),
            probabilities: "probabilities".into(),
            classes: vec!["a".into(), "b".into()],
            targets,
            transform: transform.into(),
            normalized,
        }
    }

    #[test]
    fn argmax_rule_only_where_the_probabilities_order_the_scores() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let rule = |t: &str, n: bool, k: usize| ArgmaxRule::for_head(&head(t, n, k), &labels);
        assert_eq!(rule("NONE", false, 2), Some(ArgmaxRule::First));
        assert_eq!(
            rule("NONE", true, 2),
            Some(ArgmaxRule::Clear { margin: 0.0 })
        );
        for t in ["LOGISTIC", "SOFTMAX"] {
            assert_eq!(
                rule(t, true, 2),
                Some(ArgmaxRule::Clear {
                    margin: ARGMAX_MARGIN
                })
            );
        }
        // Not increasing, or not the label's scores: the graph's labels.
        assert_eq!(rule("SOFTMAX_ZERO", false, 2), None);
        assert_eq!(rule("PROBIT", false, 2), None);
        // One score for two classes: ONNX Runtime labels by its sign, not by [1 - s, s].
        assert_eq!(rule("LOGISTIC", false, 1), None);
        // Classes other than the model's, in another order, or renamed.
        let swapped = vec!["b".to_string(), "a".to_string()];
        assert_eq!(
            ArgmaxRule::for_head(&head("SOFTMAX", false, 2), &swapped),
            None
        );
    }

    #[test]
    fn argmax_rule_asks_the_graph_about_ties_and_near_ties() {
        let clear = ArgmaxRule::Clear {
            margin: ARGMAX_MARGIN,
        };
        assert_eq!(clear.class(&[0.2, 0.7, 0.1]), Some(1));
        assert_eq!(clear.class(&[0.9, 0.05, 0.05]), Some(0));
        // 0.5 against 0.5, an exact tie, a gap under the margin: asked.
        assert_eq!(clear.class(&[0.5, 0.5]), None);
        assert_eq!(clear.class(&[0.4, 0.4, 0.2]), None);
        assert_eq!(clear.class(&[0.3333334, 0.3333333, 0.3333333]), None);
        // NaN anywhere: asked.
        assert_eq!(clear.class(&[f32::NAN, 0.5]), None);
        assert_eq!(clear.class(&[0.9, f32::NAN]), None);
        assert_eq!(clear.class(&[]), None);
        // Margin 0 (a normalizer over raw scores): any strict gap decides.
        let strict = ArgmaxRule::Clear { margin: 0.0 };
        assert_eq!(strict.class(&[-1.0, -0.9999999]), Some(1));
        assert_eq!(strict.class(&[2.0, 2.0]), None);
        // The raw scores: ONNX Runtime's own scan, first of equals, NaN as it treats it.
        assert_eq!(ArgmaxRule::First.class(&[2.0, 2.0, 1.0]), Some(0));
        assert_eq!(ArgmaxRule::First.class(&[1.0, 3.0, 3.0]), Some(1));
        assert_eq!(ArgmaxRule::First.class(&[f32::NAN, 3.0]), Some(0));
        assert_eq!(ArgmaxRule::First.class(&[1.0, f32::NAN, 0.5]), Some(0));
    }

    #[test]
    fn reads_a_linear_classifier_and_its_normalizer() {
        let attr = |name: &[u8], value: Vec<u8>| {
            let mut a = field(1, name);
            a.extend(value);
            field(5, &a)
        };
        let mut lc = field(1, b"X");
        lc.extend(field(2, b"label"));
        lc.extend(field(2, b"scores"));
        lc.extend(field(4, b"LinearClassifier"));
        let mut strings = field(9, b"x");
        strings.extend(field(9, b"y"));
        lc.extend(attr(b"classlabels_strings", strings));
        // intercepts: 2 packed floats
        lc.extend(attr(b"intercepts", field(7, &[0u8; 8])));
        lc.extend(attr(b"post_transform", field(4, b"SOFTMAX")));
        let mut norm = field(1, b"scores");
        norm.extend(field(2, b"probabilities"));
        norm.extend(field(4, b"Normalizer"));
        norm.extend(attr(b"norm", field(4, b"L1")));
        let mut graph = field(1, &lc);
        graph.extend(field(1, &norm));
        let info = inspect(&field(7, &graph)).ok().unwrap();
        assert_eq!(
            info.linear,
            [LinearHead {
                label: "label".into(),
                probabilities: "probabilities".into(),
                classes: vec!["x".into(), "y".into()],
                targets: 2,
                transform: "SOFTMAX".into(),
                normalized: true,
            }]
        );
    }

    #[test]
    fn truncated_protobuf_is_refused() {
        let model = field(7, &field(1, b"abc"));
        let err = inspect(&model[..model.len() - 2]).unwrap_err();
        assert!(err.to_string().contains("not a valid ONNX file"), "{err}");
    }

    #[test]
    fn explicit_runtime_path_that_is_missing_is_reported_not_guessed_around() {
        let err =
            locate_onnxruntime(Some(Path::new("/nonexistent/libonnxruntime.so"))).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/libonnxruntime.so"),
            "{err}"
        );
    }
}
