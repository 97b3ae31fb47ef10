pub fn x(){}
pub mod model;
pub mod training;
