"""When `sentinel status` warns that the local broker holds too much (eventing.broker_holdings)."""

from eventing.broker_holdings import holdings_warning


def test_no_warning_up_to_the_limit():
    assert holdings_warning({"sentinel.transactions": 600, "sentinel.scored": 400}, limit=1000) is None


def test_a_warning_once_the_topics_together_hold_more_than_the_limit():
    warning = holdings_warning({"sentinel.transactions": 600, "sentinel.scored": 401}, limit=1000)

    assert warning is not None
    assert "holds 1,001 records (more than 1,000)" in warning


def test_the_warning_says_how_to_start_the_broker_empty():
    warning = holdings_warning({"sentinel.transactions": 5}, limit=1)

    assert warning is not None and "`sentinel down && sentinel up`" in warning
