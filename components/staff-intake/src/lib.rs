//! Staff intake component: the staff API routes where staff bring data in
//! (`rentmsg::api::INTAKE`: the CSV imports and every route that takes a
//! typed phone number), through `rentmsg::api::component`. The phone
//! numbering metadata is linked here and nowhere else.

use rentmsg::api::{self, NextPass};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    api::component::serve(&api::INTAKE, req, &NextPass).await
}
