"""Starter ``hub.yaml`` files written by ``hub init``."""

from __future__ import annotations

STARTER = """\
# Seamless Hub configuration. Docs: README.md; field mappings: mappings/<connector>.yaml.
# Secrets never go in this file: reference environment variables as ${NAME}.
# Any key can be overridden from the environment: HUB_<KEY>__<SUBKEY>, e.g.
#   HUB_DATABASE_URL=postgresql://hub@db/hub  or  HUB_CONNECTORS__HUBSPOT__ENABLED=false
version: 1

# database_url: sqlite:///.hub/hub.db     # default; PostgreSQL for production
default_region: JP                        # phone numbers written without +country are read as this region

connectors:
  hubspot:
    type: hubspot
    enabled: true
    settings:
      access_token: ${HUBSPOT_TOKEN}      # a private-app token with crm.objects.contacts/companies read+write
      # id_property: seamless_hub_id      # a unique-value custom property the hub uses to upsert idempotently
    rules:
      person:
        direction: both                   # both | read_only | write_only
        create_when:                      # only people at SQL or later are created in the CRM
          - field: lifecycle_stage.stage
            at_least: sql
      organization:
        direction: both
    delete_policy: ignore                 # ignore | archive | propagate (deletions seen in other tools)

  zendesk:
    type: zendesk
    enabled: true
    settings:
      subdomain: yourcompany              # https://yourcompany.zendesk.com
      email: admin@yourcompany.example
      api_token: ${ZENDESK_API_TOKEN}
    rules:
      person: {direction: both}
      organization: {direction: both}
      ticket: {direction: read_only}
    delete_policy: ignore

conflict_policy:
  default: newest                         # the newest change of a field wins; empty never overwrites;
                                          # an opt-out always wins
  priority:                               # per-field source priority, first wins
    person.lifecycle_stage: [hubspot, zendesk]

mass_delete:                              # stop a run that would delete more than this
  max_count: 100
  max_fraction: 0.1

identity:                                 # who is who (deterministic links always apply)
  probabilistic: true                     # a match model learnt on your own people
  high: 0.9                               # link two people at or above this match probability
  low: 0.5                                # from here up, a pair waits in `hub identity review`
  train_after: 200                        # person records before the first model is learnt
  train_sample: 150000                    # a training learns on at most this many (memory stays flat)

schedules:
  - name: every-15-minutes
    cron: "*/15 * * * *"
"""

SANDBOX = """\
# Seamless Hub sandbox workspace: the connectors talk to the bundled fakes of HubSpot and
# Zendesk, whose state lives in .hub/sandbox/ and survives between commands.
#   hub sandbox seed hubspot --people 200      put customers into a sandbox tool
#   hub sandbox edit zendesk 12 phone=090-1111-2222   change one record as a user would
#   hub sandbox dump hubspot                   print a tool's records as JSON lines
#   hub plan / hub sync / hub person show EMAIL
version: 1
default_region: JP

connectors:
  hubspot:
    type: hubspot
    sandbox: true
    rules:
      person: {direction: both}
      organization: {direction: both}
    delete_policy: ignore
  zendesk:
    type: zendesk
    sandbox: true
    rules:
      person: {direction: both}
      organization: {direction: both}
      ticket: {direction: read_only}
    delete_policy: ignore

conflict_policy:
  default: newest

mass_delete:
  max_count: 100
  max_fraction: 0.1

schedules:
  - name: every-5-minutes
    cron: "*/5 * * * *"
"""
