//! A fixed showroom for tests: the demo's iris model (logistic regression,
//! v1) on five of the demo's sample rows, with the numbers the real model
//! gives them, and a broken second showroom.

use mld_shared::protocol::{
    ClassScore, ContributionInfo, Explanation, FeatureValue, Outcome, PathStepInfo, SampleRow,
    ScoreKind, ShowroomInfo, ShowroomPrediction, ShowroomView,
};

pub const FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];

pub fn list() -> Vec<ShowroomInfo> {
    vec![
        ShowroomInfo {
            model: "churn".into(),
            samples: "/srv/mld/churn-samples.csv".into(),
            rows: None,
            active: Some(3),
            problem: Some(
                "/srv/mld/churn-samples.csv:7: 3 fields, but the header has 4 columns".into(),
            ),
        },
        ShowroomInfo {
            model: "iris".into(),
            samples: "/srv/mld/iris-samples.csv".into(),
            rows: Some(5),
            active: Some(1),
            problem: None,
        },
    ]
}

fn classes(scores: [f64; 3]) -> Vec<ClassScore> {
    LABELS
        .iter()
        .zip(scores)
        .map(|(l, s)| ClassScore {
            label: l.to_string(),
            score: Some(s),
        })
        .collect()
}

fn values(v: [f64; 4]) -> Vec<FeatureValue> {
    v.iter().map(|x| FeatureValue::Number(*x)).collect()
}

/// Values, cells as written, the winning class, every class's probability.
type SampleFixture = ([f64; 4], [&'static str; 4], usize, [f64; 3]);

const ROWS: [SampleFixture; 5] = [
    (
        [5.8, 2.7, 3.9, 1.2],
        ["5.8", "2.7", "3.9", "1.2"],
        1,
        [0.004, 0.994, 0.002],
    ),
    (
        [4.4, 3.0, 1.3, 0.2],
        ["4.4", "3", "1.3", "0.2"],
        0,
        [0.998, 0.002, 0.0],
    ),
    (
        [5.8, 2.7, 5.1, 1.9],
        ["5.8", "2.7", "5.1", "1.9"],
        2,
        [0.0, 0.029, 0.971],
    ),
    (
        [4.8, 3.0, 1.4, 0.1],
        ["4.8", "3", "1.4", "0.1"],
        0,
        [0.992, 0.008, 0.0],
    ),
    (
        [5.7, 3.8, 1.7, 0.3],
        ["5.7", "3.8", "1.7", "0.3"],
        0,
        [0.992, 0.008, 0.0],
    ),
];

pub fn view() -> ShowroomView {
    ShowroomView {
        model: "iris".into(),
        version: 1,
        hash: "8df425a8c872".repeat(6)[..64].to_string(),
        algorithm: "logistic_regression".into(),
        samples: "/srv/mld/iris-samples.csv".into(),
        columns: FEATURES.iter().map(|s| s.to_string()).collect(),
        shown: 3,
        features: FEATURES.iter().map(|s| s.to_string()).collect(),
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        score_kind: ScoreKind::Probability,
        rows: ROWS
            .iter()
            .enumerate()
            .map(|(i, (v, cells, winner, scores))| SampleRow {
                line: i as u64 + 2,
                cells: cells.iter().map(|s| s.to_string()).collect(),
                values: values(*v),
                outcome: Outcome::Class {
                    label: LABELS[*winner].into(),
                    score: scores[*winner],
                },
                classes: classes(*scores),
            })
            .collect(),
        feature_types: vec!["number".into(); FEATURES.len()],
    }
}

fn term(feature: &str, value: f64, scaled: f64, weight: f64) -> ContributionInfo {
    ContributionInfo {
        feature: feature.into(),
        value,
        scaled,
        weight,
        contribution: weight * scaled,
    }
}

/// Row 4 on its own: setosa, and why.
pub fn row4() -> ShowroomPrediction {
    ShowroomPrediction {
        model: "iris".into(),
        version: 1,
        hash: view().hash,
        row: 4,
        line: 5,
        edited: false,
        values: FEATURES
            .iter()
            .map(|f| f.to_string())
            .zip(values(ROWS[3].0))
            .collect(),
        outcome: Outcome::Class {
            label: "setosa".into(),
            score: 0.992,
        },
        classes: classes([0.992, 0.008, 0.0]),
        score_kind: ScoreKind::Probability,
        explanation: Explanation::Contributions {
            label: "setosa".into(),
            intercept: -0.150,
            terms: vec![
                term("petal_width", 0.1, -1.432, -3.163),
                term("petal_length", 1.4, -1.320, -3.356),
                term("sepal_length", 4.8, -1.220, -1.537),
                term("sepal_width", 3.0, -0.086, 1.660),
            ],
        },
    }
}

/// Row 4 with petal_length 5: versicolor.
pub fn row4_edited() -> ShowroomPrediction {
    let mut p = row4();
    p.edited = true;
    p.values[2].1 = FeatureValue::Number(5.0);
    p.outcome = Outcome::Class {
        label: "versicolor".into(),
        score: 0.573,
    };
    p.classes = classes([0.427, 0.573, 0.0]);
    p.explanation = Explanation::Contributions {
        label: "versicolor".into(),
        intercept: 3.696,
        terms: vec![
            term("petal_width", 0.1, -1.432, -1.781),
            term("sepal_length", 4.8, -1.220, 1.370),
            term("petal_length", 5.0, 0.714, -0.852),
            term("sepal_width", 3.0, -0.086, -0.468),
        ],
    };
    p
}

/// Row 3 by version 2, a decision tree (the alias moved after the rows were predicted).
pub fn row3_by_a_tree() -> ShowroomPrediction {
    ShowroomPrediction {
        model: "iris".into(),
        version: 2,
        hash: "77".repeat(32),
        row: 3,
        line: 4,
        edited: false,
        values: FEATURES
            .iter()
            .map(|f| f.to_string())
            .zip(values(ROWS[2].0))
            .collect(),
        outcome: Outcome::Class {
            label: "virginica".into(),
            score: 0.978,
        },
        classes: vec![
            ClassScore {
                label: "setosa".into(),
                score: None,
            },
            ClassScore {
                label: "versicolor".into(),
                score: None,
            },
            ClassScore {
                label: "virginica".into(),
                score: Some(0.978),
            },
        ],
        score_kind: ScoreKind::LeafShare,
        explanation: Explanation::Path {
            steps: vec![
                PathStepInfo {
                    feature: "petal_length".into(),
                    value: 5.1,
                    threshold: Some(2.45),
                    below: false,
                },
                PathStepInfo {
                    feature: "petal_width".into(),
                    value: 1.9,
                    threshold: Some(1.75),
                    below: false,
                },
            ],
            label: "virginica".into(),
            share: 0.978,
        },
    }
}

/// A regressor with text features: `revenue` v2, ridge over tenure,
/// spend, plan and country (one-hot encoded), three sample rows; a value
/// per row, no classes.
pub const REVENUE_FEATURES: [&str; 4] = ["tenure", "spend", "plan", "country"];

pub fn revenue_info() -> ShowroomInfo {
    ShowroomInfo {
        model: "revenue".into(),
        samples: "/srv/mld/revenue-samples.csv".into(),
        rows: Some(3),
        active: Some(2),
        problem: None,
    }
}

fn revenue_values(tenure: f64, spend: f64, plan: Option<&str>, country: &str) -> Vec<FeatureValue> {
    vec![
        FeatureValue::Number(tenure),
        FeatureValue::Number(spend),
        plan.map_or(FeatureValue::Null, |p| FeatureValue::Text(p.into())),
        FeatureValue::Text(country.into()),
    ]
}

pub fn revenue_view() -> ShowroomView {
    let rows = [
        (
            ["12", "80.5", "basic", "de"],
            revenue_values(12.0, 80.5, Some("basic"), "de"),
            122.0,
        ),
        (
            ["41", "116.9", "", "it"],
            revenue_values(41.0, 116.9, None, "it"),
            209.75,
        ),
        (
            ["3", "26.96", "pro", "fr"],
            revenue_values(3.0, 26.96, Some("pro"), "fr"),
            63.5,
        ),
    ];
    ShowroomView {
        model: "revenue".into(),
        version: 2,
        hash: "5e".repeat(32),
        algorithm: "ridge".into(),
        samples: "/srv/mld/revenue-samples.csv".into(),
        columns: REVENUE_FEATURES.iter().map(|s| s.to_string()).collect(),
        shown: 4,
        features: REVENUE_FEATURES.iter().map(|s| s.to_string()).collect(),
        labels: vec![],
        score_kind: ScoreKind::Value,
        rows: rows
            .into_iter()
            .enumerate()
            .map(|(i, (cells, values, value))| SampleRow {
                line: i as u64 + 2,
                cells: cells.iter().map(|s| s.to_string()).collect(),
                values,
                outcome: Outcome::Value { value },
                classes: vec![],
            })
            .collect(),
        feature_types: ["number", "number", "text", "text"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

/// Row 1 on its own: 122 = 150 (intercept) + the contributions.
pub fn revenue_row1() -> ShowroomPrediction {
    ShowroomPrediction {
        model: "revenue".into(),
        version: 2,
        hash: "5e".repeat(32),
        row: 1,
        line: 2,
        edited: false,
        values: REVENUE_FEATURES
            .iter()
            .map(|f| f.to_string())
            .zip(revenue_values(12.0, 80.5, Some("basic"), "de"))
            .collect(),
        outcome: Outcome::Value { value: 122.0 },
        classes: vec![],
        score_kind: ScoreKind::Value,
        explanation: Explanation::ValueContributions {
            intercept: 150.0,
            terms: vec![
                term("tenure", 12.0, -0.85, 25.0),
                term("plan=basic", 1.0, 1.5, -6.5),
                term("spend", 80.5, 0.1, 15.0),
                term("country=de", 1.0, 1.2, 1.25),
            ],
        },
    }
}

/// Row 1 with plan `pro` instead of `basic`: 153.
pub fn revenue_row1_pro() -> ShowroomPrediction {
    let mut p = revenue_row1();
    p.edited = true;
    p.values[2].1 = FeatureValue::Text("pro".into());
    p.outcome = Outcome::Value { value: 153.0 };
    p.explanation = Explanation::ValueContributions {
        intercept: 150.0,
        terms: vec![
            term("tenure", 12.0, -0.85, 25.0),
            term("plan=pro", 1.0, 2.0, 10.625),
            term("spend", 80.5, 0.1, 15.0),
            term("country=de", 1.0, 1.2, 1.25),
        ],
    };
    p
}
