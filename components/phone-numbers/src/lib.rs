//! The phone-numbers component: exports `rentmsg:phone/numbers` (see
//! `wit/phone.wit`), the numbering-plan validation of
//! `rentmsg::base::normalize::parse_phone`. It needs no store, database or
//! variable: a pure function, kept apart so that its metadata and pattern
//! engine (most of its size) are linked into this file only.

wit_bindgen::generate!({
    world: "phone-numbers",
    path: "../../wit/phone.wit",
});

use exports::rentmsg::phone::numbers as wit;

struct Component;

impl wit::Guest for Component {
    fn e164(raw: String, country: String) -> Result<String, String> {
        // The local parser whatever features the workspace build unified
        // on rentmsg: this component is where the import lands.
        rentmsg::base::normalize::parse_phone(&raw, &country)
    }
}

export!(Component);
