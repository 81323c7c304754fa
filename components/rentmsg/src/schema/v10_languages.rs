//! Migration 10: tenants in their own language, properties in their own
//! currency, and links whose expiry the server keeps.
//!
//! - `tenants.language`: `en`, `es` or `fr`; NULL = the property's language
//!   (French in Quebec, else English; derived from the property's state and
//!   country, so it follows an edited property).
//! - `properties.currency`: `USD` or `CAD`; existing Canadian properties
//!   become CAD, the others stay USD.
//! - `notice_templates` gains `language` in its key (the table is rebuilt:
//!   SQLite cannot change a primary key in place); the stored templates
//!   become the English ones. English defaults nobody edited are replaced by
//!   shorter wording that fits one GSM-7 segment with a 30-character
//!   `public_base_url`; Spanish and French defaults are added.
//! - `sms_keywords.language`: the language a keyword belongs to, so the
//!   confirmation answers in it; Spanish and French words are added, each
//!   with and without its accents.
//! - `outbox.link_expires_at`: when the row's links expire, for links whose
//!   short token does not carry the expiry (see `notices::links`).

use crate::schema::Migration;

/// Migration 10.
pub const MIGRATION: Migration = Migration {
    version: 10,
    name: "languages, currencies, short links",
    statements: &[
        "ALTER TABLE tenants ADD COLUMN language TEXT CHECK (language IS NULL OR language IN ('en', 'es', 'fr'))",
        "ALTER TABLE properties ADD COLUMN currency TEXT NOT NULL DEFAULT 'USD' CHECK (currency IN ('USD', 'CAD'))",
        "UPDATE properties SET currency = 'CAD' WHERE upper(country) = 'CA'",
        "ALTER TABLE outbox ADD COLUMN link_expires_at TEXT",
        "CREATE TABLE notice_templates_v10 (
            stage INTEGER NOT NULL CHECK (stage >= 1),
            channel TEXT NOT NULL CHECK (channel IN ('text', 'email')),
            language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'es', 'fr')),
            subject TEXT,
            body TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (stage, channel, language),
            CHECK ((channel = 'email') = (subject IS NOT NULL))
        )",
        "INSERT INTO notice_templates_v10 (stage, channel, language, subject, body, updated_by, updated_at)
         SELECT stage, channel, 'en', subject, body, updated_by, updated_at FROM notice_templates",
        "DROP TABLE notice_templates",
        "ALTER TABLE notice_templates_v10 RENAME TO notice_templates",
        // Shorter English texts, only where staff kept the shipped wording.
        "UPDATE notice_templates SET body = CASE stage
            WHEN 1 THEN '{{ facility }}: {{ tenant_name }}, your balance of {{ balance }} is past due. Pay: {{ payment_link }} {{ opt_out }}'
            WHEN 2 THEN '{{ facility }}: reminder, {{ balance }} is {{ days_past_due }} days past due. Pay: {{ payment_link }} {{ opt_out }}'
            WHEN 3 THEN '{{ facility }}: {{ tenant_name }}, {{ balance }} is {{ days_past_due }} days late. Please pay: {{ payment_link }} {{ opt_out }}'
            WHEN 4 THEN '{{ facility }}: {{ balance }} is {{ days_past_due }} days past due. Pay today or call us: {{ payment_link }} {{ opt_out }}'
            ELSE '{{ facility }}: final notice, {{ balance }} is {{ days_past_due }} days past due. Pay: {{ payment_link }} {{ opt_out }}' END
         WHERE channel = 'text' AND language = 'en' AND updated_by = 'system' AND stage BETWEEN 1 AND 5",
        // Spanish (as written in the US) and French (as written in Quebec).
        // Texts avoid á, í, ó, ú, ê, ç and friends, which would switch the
        // whole text to UCS-2 (70 characters a segment).
        "INSERT INTO notice_templates (stage, channel, language, subject, body, updated_by, updated_at)
         SELECT column1, column2, column3, column4, column5, 'system', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM (VALUES
            (1, 'text', 'es', NULL, '{{ facility }}: {{ tenant_name }}, saldo vencido: {{ balance }}. Pague: {{ payment_link }} {{ opt_out }}'),
            (2, 'text', 'es', NULL, '{{ facility }}: recordatorio, {{ balance }} vencido. Pague: {{ payment_link }} {{ opt_out }}'),
            (3, 'text', 'es', NULL, '{{ facility }}: {{ tenant_name }}, sigue pendiente {{ balance }}. Pague: {{ payment_link }} {{ opt_out }}'),
            (4, 'text', 'es', NULL, '{{ facility }}: por favor pague {{ balance }} hoy: {{ payment_link }} {{ opt_out }}'),
            (5, 'text', 'es', NULL, '{{ facility }}: aviso final, {{ balance }} vencido. Pague: {{ payment_link }} {{ opt_out }}'),
            (1, 'text', 'fr', NULL, '{{ facility }} : solde de {{ balance }} en retard. Payez : {{ payment_link }} {{ opt_out }}'),
            (2, 'text', 'fr', NULL, '{{ facility }} : rappel, {{ balance }} en retard. Payez : {{ payment_link }} {{ opt_out }}'),
            (3, 'text', 'fr', NULL, '{{ facility }} : {{ balance }} en retard de {{ days_past_due }} jours. {{ payment_link }} {{ opt_out }}'),
            (4, 'text', 'fr', NULL, '{{ facility }} : payez {{ balance }} aujourd''hui : {{ payment_link }} {{ opt_out }}'),
            (5, 'text', 'fr', NULL, '{{ facility }} : dernier avis, {{ balance }} en retard. {{ payment_link }} {{ opt_out }}'),
            (1, 'email', 'es', '{{ facility }}: su saldo de {{ balance }} está vencido',
             'Hola, {{ tenant_name }}:

Su saldo de {{ balance }}{% if unit %} de la unidad {{ unit }}{% endif %} en {{ facility }} venció el {{ due_date }} y está pendiente de pago.

Puede pagar de forma segura en línea: {{ payment_link }}

Si ya pagó, gracias; no tenga en cuenta este mensaje.

{{ opt_out }}'),
            (2, 'email', 'es', '{{ facility }}: recordatorio, {{ balance }} con {{ days_past_due }} días de atraso',
             'Hola, {{ tenant_name }}:

Le recordamos que su saldo de {{ balance }}{% if unit %} de la unidad {{ unit }}{% endif %} en {{ facility }} tiene {{ days_past_due }} días de atraso.

Pague de forma segura en línea: {{ payment_link }}

{{ opt_out }}'),
            (3, 'email', 'es', '{{ facility }}: {{ balance }} con {{ days_past_due }} días de atraso',
             'Hola, {{ tenant_name }}:

Su saldo de {{ balance }}{% if unit %} de la unidad {{ unit }}{% endif %} en {{ facility }} ya tiene {{ days_past_due }} días de atraso.

Pague en línea: {{ payment_link }}
Si no puede pagar el total, responda a este correo o llame a la oficina.

{{ opt_out }}'),
            (4, 'email', 'es', '{{ facility }}: por favor pague {{ balance }} hoy',
             'Hola, {{ tenant_name }}:

Su saldo de {{ balance }}{% if unit %} de la unidad {{ unit }}{% endif %} en {{ facility }} tiene {{ days_past_due }} días de atraso. Por favor, pague hoy: {{ payment_link }}

Si no puede pagar el total, responda a este correo o llame a la oficina.

{{ opt_out }}'),
            (5, 'email', 'es', '{{ facility }}: aviso final, {{ balance }} vencido',
             'Hola, {{ tenant_name }}:

Este es un aviso final: su saldo de {{ balance }}{% if unit %} de la unidad {{ unit }}{% endif %} en {{ facility }} tiene {{ days_past_due }} días de atraso.

Pague en línea: {{ payment_link }}

{{ opt_out }}'),
            (1, 'email', 'fr', '{{ facility }} : votre solde de {{ balance }} est en retard',
             'Bonjour {{ tenant_name }},

Votre solde de {{ balance }}{% if unit %} pour l''unité {{ unit }}{% endif %} à {{ facility }} était dû le {{ due_date }} et est maintenant en retard.

Vous pouvez payer en ligne en toute sécurité : {{ payment_link }}

Si vous avez déjà payé, merci de ne pas tenir compte de ce message.

{{ opt_out }}'),
            (2, 'email', 'fr', '{{ facility }} : rappel, {{ balance }} en retard de {{ days_past_due }} jours',
             'Bonjour {{ tenant_name }},

Nous vous rappelons que votre solde de {{ balance }}{% if unit %} pour l''unité {{ unit }}{% endif %} à {{ facility }} est en retard de {{ days_past_due }} jours.

Payez en ligne en toute sécurité : {{ payment_link }}

{{ opt_out }}'),
            (3, 'email', 'fr', '{{ facility }} : {{ balance }} en retard de {{ days_past_due }} jours',
             'Bonjour {{ tenant_name }},

Votre solde de {{ balance }}{% if unit %} pour l''unité {{ unit }}{% endif %} à {{ facility }} est maintenant en retard de {{ days_past_due }} jours.

Payez en ligne : {{ payment_link }}
Si vous ne pouvez pas payer le montant total, répondez à ce courriel ou appelez le bureau.

{{ opt_out }}'),
            (4, 'email', 'fr', '{{ facility }} : veuillez payer {{ balance }} aujourd''hui',
             'Bonjour {{ tenant_name }},

Votre solde de {{ balance }}{% if unit %} pour l''unité {{ unit }}{% endif %} à {{ facility }} est en retard de {{ days_past_due }} jours. Veuillez payer aujourd''hui : {{ payment_link }}

Si vous ne pouvez pas payer le montant total, répondez à ce courriel ou appelez le bureau.

{{ opt_out }}'),
            (5, 'email', 'fr', '{{ facility }} : dernier avis, {{ balance }} en retard',
             'Bonjour {{ tenant_name }},

Ceci est un dernier avis : votre solde de {{ balance }}{% if unit %} pour l''unité {{ unit }}{% endif %} à {{ facility }} est en retard de {{ days_past_due }} jours.

Payez en ligne : {{ payment_link }}

{{ opt_out }}'))",
        "ALTER TABLE sms_keywords ADD COLUMN language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'es', 'fr'))",
        // Whole-message words only, so a sentence that merely contains one is
        // free text for staff. Opt-in words are few on purpose: SI / OUI are
        // everyday answers to a question and must not resubscribe anyone.
        "INSERT INTO sms_keywords (keyword, action, language, updated_by, updated_at)
         SELECT column1, column2, column3, 'system', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM (VALUES
            ('PARAR', 'opt_out', 'es'), ('ALTO', 'opt_out', 'es'), ('CANCELAR', 'opt_out', 'es'),
            ('DETENER', 'opt_out', 'es'), ('BAJA', 'opt_out', 'es'),
            ('ARRÊT', 'opt_out', 'fr'), ('ARRET', 'opt_out', 'fr'), ('ARRÊTER', 'opt_out', 'fr'), ('ARRETER', 'opt_out', 'fr'),
            ('DÉSABONNER', 'opt_out', 'fr'), ('DESABONNER', 'opt_out', 'fr'),
            ('COMENZAR', 'opt_in', 'es'), ('REANUDAR', 'opt_in', 'es'),
            ('COMMENCER', 'opt_in', 'fr'), ('REPRENDRE', 'opt_in', 'fr'),
            ('AYUDA', 'help', 'es'), ('AIDE', 'help', 'fr'))
         WHERE column1 NOT IN (SELECT keyword FROM sms_keywords)",
    ],
};
