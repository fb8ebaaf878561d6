"""Model rules enforced by the database itself, not only by Python code."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from parvis.identity.models import Account, AccountKind, Domain, Mandate, Official
from parvis.identity.services import create_account, validate_handle


def test_handle_is_unique_per_domain_at_database_level(account: Account) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.bulk_create(
            [
                Account(
                    domain=account.domain,
                    handle="ville",
                    kind=AccountKind.INSTITUTION,
                    display_name="Doublon",
                )
            ]
        )


def test_same_handle_on_two_domains_is_allowed(account: Account) -> None:
    other = Domain.objects.create(name="social.assemblee-nationale.fr")
    twin = create_account(
        domain=other, handle="ville", kind=AccountKind.INSTITUTION, display_name="Autre"
    )
    assert twin.acct == "ville@social.assemblee-nationale.fr"
    assert account.acct == "ville@social.blois.fr"


def test_handle_format_is_checked_by_the_database(domain: Domain) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.bulk_create(
            [
                Account(
                    domain=domain, handle="Éric Dupont", kind=AccountKind.PERSON, display_name="x"
                )
            ]
        )


def test_one_open_mandate_per_function_at_database_level(mayor: Mandate) -> None:
    successor = Official.objects.create(given_name="Jeanne", family_name="MARTIN")
    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.create(
            official=successor,
            institution=mayor.institution,
            function_label="Maire",
            function_account=mayor.function_account,
            start_date=date(2026, 3, 22),
        )
    # Once the first mandate ends, the successor's mandate is accepted.
    mayor.end_date = date(2026, 3, 21)
    mayor.save()
    Mandate.objects.create(
        official=successor,
        institution=mayor.institution,
        function_label="Maire",
        function_account=mayor.function_account,
        start_date=date(2026, 3, 22),
    )
    assert mayor.function_account.function_mandates.count() == 2


def test_mandate_cannot_end_before_it_starts(mayor: Mandate) -> None:
    mayor.end_date = date(2019, 1, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        mayor.save()


def test_domain_names_are_lower_case_in_the_database(db) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Domain.objects.bulk_create([Domain(name="Social.Blois.FR")])


def test_official_link_only_on_person_accounts(domain: Domain) -> None:
    official = Official.objects.create(given_name="A", family_name="B")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.bulk_create(
            [
                Account(
                    domain=domain,
                    handle="b",
                    kind=AccountKind.INSTITUTION,
                    display_name="B",
                    official=official,
                )
            ]
        )


@pytest.mark.parametrize(
    ("handle", "code"),
    [
        ("", "handle_empty"),
        ("a" * 65, "handle_long"),
        ("jean dupont", "handle_format"),
        ("élodie", "handle_format"),
        ("admin", "handle_reserved"),
        ("ville.rss", "handle_reserved"),
        (".ville", "handle_format"),
        ("ville-", "handle_format"),
    ],
)
def test_bad_handles_are_refused_with_a_reason(handle: str, code: str) -> None:
    with pytest.raises(ValidationError) as error:
        validate_handle(handle)
    assert error.value.code == code


def test_taken_handle_is_refused(account: Account) -> None:
    with pytest.raises(ValidationError, match="déjà pris"):
        create_account(
            domain=account.domain, handle="VILLE", kind=AccountKind.INSTITUTION, display_name="x"
        )
