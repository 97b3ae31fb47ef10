//! The training form, built only from the daemon's catalog: the dataset
//! and the model as choices, then every hyperparameter of that model with
//! its type, default and range, the test split and the seed. Changing the
//! model rebuilds the hyperparameter fields. The daemon checks the request
//! (`CheckTraining`) and each problem it finds is set on its field.

use crate::widgets::form::{Field, Form};
use mld_shared::protocol::{
    AlgorithmInfo, CatalogInfo, FieldProblem, HyperparameterInfo, ParamKind, ParamValue, TrainSpec,
};

pub const PREFIX: &str = "hyperparameters.";

/// A training form, the dataset its model choices are for (the models of
/// that dataset's task) and the catalog model its hyperparameter fields
/// are for.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainForm {
    pub form: Form,
    pub dataset: String,
    pub model: String,
}

fn param_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(f) => f.to_string(),
        ParamValue::Text(t) => t.clone(),
    }
}

/// `integer in [1, 1000], default 100: how many trees`.
fn hint(h: &HyperparameterInfo) -> String {
    let kind = match &h.kind {
        ParamKind::Int { min, max } => format!("integer in [{min}, {max}]"),
        ParamKind::Float { min, max } => format!("number in [{min}, {max}]"),
        ParamKind::Bool => "true or false".to_string(),
        ParamKind::Choice { options } => format!("one of {}", options.join(", ")),
    };
    format!(
        "{kind}, default {}: {}",
        param_text(&h.default),
        h.description
    )
}

fn param_field(h: &HyperparameterInfo) -> Field {
    let name = format!("{PREFIX}{}", h.name);
    let value = param_text(&h.default);
    match &h.kind {
        ParamKind::Bool => Field::choice(
            &name,
            &h.name,
            vec!["true".into(), "false".into()],
            &value,
            &hint(h),
        ),
        ParamKind::Choice { options } => {
            Field::choice(&name, &h.name, options.clone(), &value, &hint(h))
        }
        ParamKind::Int { .. } | ParamKind::Float { .. } => {
            Field::text(&name, &h.name, &value, &hint(h))
        }
    }
}

/// The datasets that can be trained on (the others say why not in the catalog).
fn usable_datasets(catalog: &CatalogInfo) -> Vec<String> {
    catalog
        .datasets
        .iter()
        .filter(|d| d.problem.is_none())
        .map(|d| d.name.clone())
        .collect()
}

fn algorithm<'a>(catalog: &'a CatalogInfo, name: &str) -> Option<&'a AlgorithmInfo> {
    catalog.models.iter().find(|m| m.name == name)
}

/// The models that can learn `dataset`: those of its task (a classifier
/// for classes, a regressor for numbers); all of them if it has none.
fn models_for(catalog: &CatalogInfo, dataset: &str) -> Vec<String> {
    let task = catalog
        .datasets
        .iter()
        .find(|d| d.name == dataset)
        .and_then(|d| d.task.as_deref());
    catalog
        .models
        .iter()
        .filter(|m| task.is_none_or(|t| m.task == t))
        .map(|m| m.name.clone())
        .collect()
}

/// A fresh form: the first dataset, the first model of its task, their defaults.
pub fn new(catalog: &CatalogInfo, admin: bool) -> TrainForm {
    let datasets = usable_datasets(catalog);
    let dataset = datasets.first().cloned().unwrap_or_default();
    let models = models_for(catalog, &dataset);
    let model = models.first().cloned().unwrap_or_default();
    let intro = if admin {
        "Trains on the daemon; the result is an experiment to inspect and commit."
    } else {
        "Starting a training needs admin: the daemon will refuse it (checking works)."
    };
    let mut form = Form::new("Train a model", "check and train")
        .intro(intro)
        .field(Field::choice(
            "dataset",
            "dataset",
            datasets,
            &dataset,
            "←/→ choose; the data set to learn from (see the Catalog)",
        ))
        .field(model_field(models, &model));
    if let Some(a) = algorithm(catalog, &model) {
        for h in &a.hyperparameters {
            form = form.field(param_field(h));
        }
    }
    form = form
        .field(Field::text(
            "test_split",
            "test split",
            "0.2",
            "share of rows held out for evaluation, between 0 and 1",
        ))
        .field(Field::text(
            "seed",
            "seed",
            "",
            "empty: a fresh seed (recorded); a number repeats a training exactly",
        ));
    TrainForm {
        form,
        dataset,
        model,
    }
}

fn model_field(models: Vec<String>, model: &str) -> Field {
    Field::choice(
        "model",
        "model",
        models,
        model,
        "←/→ choose among the models of the dataset's task; its hyperparameters follow",
    )
}

/// After a key: when the dataset choice changed, the model choices become
/// that dataset's task's (the model kept if it fits, else the first);
/// when the model changed, its hyperparameters replace the old model's
/// (dataset, split and seed keep their values).
pub fn follow_model(t: &mut TrainForm, catalog: &CatalogInfo) {
    let dataset = t.form.value("dataset").to_string();
    if dataset != t.dataset {
        let models = models_for(catalog, &dataset);
        let current = t.form.value("model").to_string();
        if let Some(i) = t.form.fields.iter().position(|f| f.name == "model") {
            t.form.fields[i] = model_field(models, &current);
        }
        t.dataset = dataset;
    }
    let chosen = t.form.value("model").to_string();
    if chosen == t.model {
        return;
    }
    let focus_name = t.form.fields.get(t.form.focus).map(|f| f.name.clone());
    t.form.fields.retain(|f| !f.name.starts_with(PREFIX));
    let at = t
        .form
        .fields
        .iter()
        .position(|f| f.name == "model")
        .map_or(t.form.fields.len(), |i| i + 1);
    if let Some(a) = algorithm(catalog, &chosen) {
        for (i, h) in a.hyperparameters.iter().enumerate() {
            t.form.fields.insert(at + i, param_field(h));
        }
    }
    t.form.focus = focus_name
        .and_then(|n| t.form.fields.iter().position(|f| f.name == n))
        .unwrap_or(0);
    t.model = chosen;
}

/// The request the form says, or the errors a value's type makes certain
/// (split and seed); ranges and the rest are the daemon's to check.
pub fn read(t: &mut TrainForm) -> Option<TrainSpec> {
    let form = &mut t.form;
    form.clear_errors();
    let test_split = match form.value("test_split").trim().parse::<f64>() {
        Ok(v) => Some(v),
        Err(_) => {
            form.set_error("test_split", "expected a number like 0.2");
            None
        }
    };
    let seed_text = form.value("seed").trim().to_string();
    let seed = if seed_text.is_empty() {
        Some(None)
    } else {
        match seed_text.parse::<u64>() {
            Ok(s) => Some(Some(s)),
            Err(_) => {
                form.set_error("seed", "expected a whole number, or nothing");
                None
            }
        }
    };
    let hyperparameters = form
        .fields
        .iter()
        .filter_map(|f| {
            f.name
                .strip_prefix(PREFIX)
                .map(|n| (n.to_string(), f.value().trim().to_string()))
        })
        .collect();
    Some(TrainSpec {
        dataset: form.value("dataset").to_string(),
        model: form.value("model").to_string(),
        hyperparameters,
        test_split: test_split?,
        seed: seed?,
    })
}

/// Sets each of the daemon's problems on its field (`request` and any
/// field the form lacks go above the fields).
pub fn show_problems(t: &mut TrainForm, problems: &[FieldProblem]) {
    t.form.clear_errors();
    for p in problems {
        t.form.set_error(&p.field, p.message.clone());
    }
    // The focus goes to the first field in error, in form order.
    if let Some(i) = t.form.fields.iter().position(|f| f.error.is_some()) {
        t.form.focus = i;
    }
}
