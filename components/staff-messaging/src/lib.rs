//! Staff messaging component: the staff API routes that render message
//! templates (`rentmsg::api::MESSAGING`: notice templates, staff messages
//! and replies), through `rentmsg::api::component`. A staff reply is sent
//! in the request, through the providers and the shared send budget.

use rentmsg::api::component::ProviderReply;
use rentmsg::api::{self, component};
use spin_sdk::http::{IncomingRequest, Response};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: IncomingRequest) -> Response {
    let sender = ProviderReply { component: api::MESSAGING.component };
    component::serve(&api::MESSAGING, req, &sender).await
}
