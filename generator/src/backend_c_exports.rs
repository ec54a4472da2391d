//! (Being written.) Outputs for the C library's exported functions.

use crate::model::Api;
use crate::{Error, Output};

pub(crate) fn outputs(_api: &Api) -> Result<Vec<Output>, Error> {
    Ok(Vec::new())
}
