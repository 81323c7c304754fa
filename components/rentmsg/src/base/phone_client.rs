//! Phone numbers through the `rentmsg:phone/numbers` WIT import (feature
//! `phone-client`), for the component that lists the phone-numbers
//! component as a dependency: the same validation, answered there.

mod bindings {
    wit_bindgen::generate!({
        world: "phone-client",
        path: "../../wit/phone.wit",
    });
}

/// [`super::normalize::parse_phone`], run by the phone-numbers component.
pub(super) fn e164(raw: &str, country: &str) -> Result<String, String> {
    bindings::rentmsg::phone::numbers::e164(raw, country)
}
