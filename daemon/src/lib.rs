pub mod datalake;

pub fn x() {}
