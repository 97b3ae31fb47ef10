pub fn x(){}

pub mod clock;
pub mod scheduler;
