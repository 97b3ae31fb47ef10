//! ONNX models: finding and loading the ONNX Runtime library, checking an
//! imported graph (input shape, label output, class labels) and scoring rows with it.
//!
//! Receives: `.onnx` bytes (scikit-learn classifiers exported by skl2onnx with
//! `zipmap` off), the declared feature names, optional labels, and where the
//! runtime library may be. Emits: an [`OnnxPredictor`] (class index + score per
//! row) or a [`ModelError`] saying what is missing or unsupported and how to fix it.
//!
//! The runtime is loaded at most once per process (ONNX Runtime allows one
//! environment); native models never touch it, so they keep working without it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ndarray::ArrayView2;
use ort::session::Session;

use ort::value::{TensorElementType, TensorRef, ValueType};

use super::ModelError;

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

/// Input element type the graph declares.
#[derive(Debug, Clone, Copy)]
enum InputType {
    F32,
    F64,
}

/// How the label output encodes classes; `values[i]` is class `i`'s label.
/// Looked up by linear scan: classifiers have few classes, and a scan beats hashing them.
#[derive(Debug)]
enum LabelOutput {
    Int(Vec<i64>),
    Text(Vec<String>),
}

/// What [`inspect`] learns from a graph.
#[derive(Debug)]
pub struct OnnxInfo {
    pub labels: Vec<String>,
    /// The operator types in the graph, in order of first appearance.
    pub ops: Vec<String>,
    pub producer: String,
}

/// A graph run: each row's class index, and the probability output
/// (row width, values) when the graph has one.
type Ran = (Vec<usize>, Option<(usize, Vec<f32>)>);

/// A loaded ONNX classifier.
pub struct OnnxPredictor {
    /// `run` needs `&mut`; one batch at a time per model is fine for batch scoring.
    session: Mutex<Session>,
    input_type: InputType,
    n_features: usize,
    label_output: usize,
    label_map: LabelOutput,
    probabilities_output: Option<usize>,
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

impl OnnxPredictor {
    /// Builds a session over `bytes` and checks the graph's interface against
    /// `n_features` and `labels`.
    pub fn load(
        bytes: &[u8],
        n_features: usize,
        labels: &[String],
        runtime: Option<&Path>,
    ) -> Result<Self, ModelError> {
        // Read the graph ourselves first: a graph that points at files
        // outside itself is refused before ONNX Runtime would open them.
        let graph_labels = inspect(bytes)?.labels;
        let env = environment(runtime)?;
        let session = Session::builder(&env)
            .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
            .and_then(|mut b| b.commit_from_memory(bytes))
            .map_err(|e| unsupported(format!("ONNX Runtime refused the graph: {e}")))?;

        let inputs = session.inputs();
        if inputs.len() != 1 {
            return Err(unsupported(format!(
                "expected one input tensor of shape [N, {n_features}], found {} inputs",
                inputs.len()
            )));
        }
        let input_type = match inputs[0].dtype() {
            ValueType::Tensor { ty, shape, .. } => {
                if shape.len() != 2 {
                    return Err(unsupported(format!(
                        "input {:?} has {} dimensions, expected 2",
                        inputs[0].name(),
                        shape.len()
                    )));
                }
                if shape[1] >= 0 && shape[1] as usize != n_features {
                    return Err(unsupported(format!(
                        "input {:?} takes {} features but {} feature names were declared",
                        inputs[0].name(),
                        shape[1],
                        n_features
                    )));
                }
                match ty {
                    TensorElementType::Float32 => InputType::F32,
                    TensorElementType::Float64 => InputType::F64,
                    other => {
                        return Err(unsupported(format!(
                            "input element type {other:?}; expected float or double"
                        )));
                    }
                }
            }
            other => {
                return Err(unsupported(format!(
                    "input is {other:?}, expected a tensor"
                )));
            }
        };

        let outputs = session.outputs();
        let mut label_output = None;
        let mut probabilities_output = None;
        for (i, o) in outputs.iter().enumerate() {
            match o.dtype() {
                ValueType::Tensor {
                    ty: TensorElementType::Int64 | TensorElementType::String,
                    ..
                } if label_output.is_none() => {
                    label_output = Some((
                        i,
                        matches!(
                            o.dtype(),
                            ValueType::Tensor {
                                ty: TensorElementType::Int64,
                                ..
                            }
                        ),
                    ))
                }
                ValueType::Tensor {
                    ty: TensorElementType::Float32,
                    shape,
                    ..
                } if shape.len() == 2 => probabilities_output = Some(i),
                ValueType::Sequence(_) => {
                    return Err(unsupported(format!(
                        "output {:?} is a sequence of maps (ZipMap); export with skl2onnx options={{'zipmap': False}}",
                        o.name()
                    )));
                }
                _ => {}
            }
        }
        let Some((label_output, int_labels)) = label_output else {
            return Err(unsupported(
                "no label output (an int64 or string tensor); only classifiers are supported",
            ));
        };
        // The graph's own class values, when it names them, match its label output;
        // `labels` may rename them (e.g. class 0 -> "setosa") position by position.
        let keys: &[String] = if graph_labels.len() == labels.len() {
            &graph_labels
        } else {
            labels
        };
        let label_map = if int_labels {
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
            LabelOutput::Int(values)
        } else {
            LabelOutput::Text(keys.to_vec())
        };
        Ok(OnnxPredictor {
            session: Mutex::new(session),
            input_type,
            n_features,
            label_output,
            label_map,
            probabilities_output,
        })
    }

    /// Whether the graph has a probability output (one score per class).
    pub fn has_probabilities(&self) -> bool {
        self.probabilities_output.is_some()
    }

    /// Scores a chunk: gathers `columns` of `rows` into the graph's input type, runs it, maps labels.
    pub fn predict(
        &self,
        columns: &[usize],
        rows: ArrayView2<f64>,
    ) -> Result<Vec<(usize, f64)>, ModelError> {
        let (classes, probabilities) = self.run(columns, rows)?;
        let scores: Vec<f64> = match probabilities {
            Some((width, probs)) => classes
                .iter()
                .enumerate()
                .map(|(r, &c)| {
                    if c < width {
                        f64::from(probs[r * width + c])
                    } else {
                        1.0
                    }
                })
                .collect(),
            None => vec![1.0; classes.len()],
        };
        Ok(classes.into_iter().zip(scores).collect())
    }

    /// Every class's probability for each row, from the graph's probability
    /// output (`None` when the graph has none).
    pub fn probabilities(
        &self,
        columns: &[usize],
        rows: ArrayView2<f64>,
    ) -> Result<Option<Vec<Vec<f64>>>, ModelError> {
        let (_, probabilities) = self.run(columns, rows)?;
        Ok(probabilities.map(|(width, probs)| {
            probs
                .chunks(width.max(1))
                .map(|row| row.iter().map(|p| f64::from(*p)).collect())
                .collect()
        }))
    }

    /// Runs the graph on a chunk.
    fn run(&self, columns: &[usize], rows: ArrayView2<f64>) -> Result<Ran, ModelError> {
        let n = rows.nrows();
        let shape = [n as i64, self.n_features as i64];
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = match self.input_type {
            InputType::F32 => {
                let mut data = Vec::with_capacity(n * self.n_features);
                for r in rows.rows() {
                    data.extend(columns.iter().map(|&c| r[c] as f32));
                }
                let t = TensorRef::from_array_view((shape, data.as_slice())).map_err(run_err)?;
                session.run(ort::inputs![t]).map_err(run_err)?
            }
            InputType::F64 => {
                let mut data = Vec::with_capacity(n * self.n_features);
                for r in rows.rows() {
                    data.extend(columns.iter().map(|&c| r[c]));
                }
                let t = TensorRef::from_array_view((shape, data.as_slice())).map_err(run_err)?;
                session.run(ort::inputs![t]).map_err(run_err)?
            }
        };
        // Every output is checked against the batch before it is indexed:
        // a graph may return fewer (or more) rows than it was given.
        let rows_of = |what: &str, got: usize| {
            if got == n {
                Ok(())
            } else {
                Err(run_err(format!(
                    "the graph returned {got} {what} for {n} rows"
                )))
            }
        };
        let classes: Vec<usize> = match &self.label_map {
            LabelOutput::Int(m) => {
                let (_, values) = outputs[self.label_output]
                    .try_extract_tensor::<i64>()
                    .map_err(run_err)?;
                rows_of("labels", values.len())?;
                values
                    .iter()
                    .map(|v| {
                        m.iter()
                            .position(|l| l == v)
                            .ok_or_else(|| run_err(format!("the graph emitted unknown label {v}")))
                    })
                    .collect::<Result<_, _>>()?
            }
            LabelOutput::Text(m) => {
                let (_, values) = outputs[self.label_output]
                    .try_extract_strings()
                    .map_err(run_err)?;
                rows_of("labels", values.len())?;
                values
                    .iter()
                    .map(|v| {
                        m.iter().position(|l| l == v).ok_or_else(|| {
                            run_err(format!("the graph emitted unknown label {v:?}"))
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        if classes.len() != n {
            return Err(run_err(format!(
                "the graph returned {} labels for {n} rows",
                classes.len()
            )));
        }
        let probabilities = match self.probabilities_output {
            Some(p) => {
                let (shape, probs) = outputs[p].try_extract_tensor::<f32>().map_err(run_err)?;
                let dims: Vec<i64> = shape.iter().copied().collect();
                let (rows, width) = match dims[..] {
                    [r, w] if r >= 0 && w >= 0 => (r as usize, w as usize),
                    _ => {
                        return Err(run_err(format!(
                            "the graph returned probabilities of shape {dims:?}, expected [{n}, classes]"
                        )));
                    }
                };
                rows_of("rows of probabilities", rows)?;
                if rows.checked_mul(width) != Some(probs.len()) {
                    return Err(run_err(format!(
                        "the graph returned {} probabilities for shape {dims:?}",
                        probs.len()
                    )));
                }
                Some((width, probs.to_vec()))
            }
            None => None,
        };
        Ok((classes, probabilities))
    }
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

/// Reads the class labels, operator list and producer from the ONNX protobuf,
/// and refuses a graph whose tensors point at external files.
///
/// skl2onnx puts the classes on the classifier node as `classlabels_strings` or
/// `classlabels_int64s`; we read them with a minimal protobuf walk rather than
/// pulling in a full ONNX schema crate for four fields.
pub fn inspect(bytes: &[u8]) -> Result<OnnxInfo, ModelError> {
    let bad = |what: &str| unsupported(format!("not a valid ONNX file ({what})"));
    let mut info = OnnxInfo {
        labels: Vec::new(),
        ops: Vec::new(),
        producer: String::new(),
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
    for field in proto::fields(graph).map_err(|_| bad("graph"))? {
        let (1, proto::Field::Bytes(node)) = field else {
            continue;
        };
        let mut op = String::new();
        let mut attributes = Vec::new();
        for f in proto::fields(node).map_err(|_| bad("node"))? {
            match f {
                (4, proto::Field::Bytes(b)) => op = String::from_utf8_lossy(b).into_owned(),
                (5, proto::Field::Bytes(b)) => attributes.push(b),
                _ => {}
            }
        }
        if !info.ops.contains(&op) {
            info.ops.push(op);
        }
        for attr in attributes {
            let mut name = String::new();
            let mut strings = Vec::new();
            let mut ints = Vec::new();
            for f in proto::fields(attr).map_err(|_| bad("attribute"))? {
                match f {
                    (1, proto::Field::Bytes(b)) => name = String::from_utf8_lossy(b).into_owned(),
                    (8, proto::Field::Varint(v)) => ints.push(v as i64),
                    (8, proto::Field::Bytes(packed)) => ints.extend(
                        proto::packed_varints(packed)
                            .map_err(|_| bad("attribute ints"))?
                            .into_iter()
                            .map(|v| v as i64),
                    ),
                    (9, proto::Field::Bytes(b)) => {
                        strings.push(String::from_utf8_lossy(b).into_owned())
                    }
                    _ => {}
                }
            }
            if info.labels.is_empty() {
                match name.as_str() {
                    "classlabels_strings" => info.labels = strings,
                    "classlabels_int64s" | "classlabels_ints" => {
                        info.labels = ints.iter().map(|v| v.to_string()).collect()
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(info)
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
