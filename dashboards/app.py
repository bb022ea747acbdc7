"""The dashboards' entry script: `streamlit run dashboards/app.py` (or `zhengyun dashboard`).

A login (user name and password, or a token), then the pages the user's role may open.
"""

from __future__ import annotations

import streamlit as st

from dashboards.common import ACTOR, LANG, PERIOD, actor, label, login, period, period_refusal, tr
from dashboards.nav import PAGES, pages_for


def _login_form() -> None:
    st.title(tr("政云 zhengyun dashboards"))
    with st.form("login"):
        st.subheader(tr("Sign in"))
        name = st.text_input(tr("User name"), key="login-name")
        password = st.text_input(tr("Password"), type="password", key="login-password")
        token = st.text_input(tr("or a token"), type="password", key="login-token")
        if st.form_submit_button(tr("Sign in")) and login(name, password, token) is not None:
            st.rerun()


def main() -> None:
    st.set_page_config(page_title="政云 zhengyun", layout="wide")
    st.session_state.setdefault(LANG, "zh")
    st.session_state.setdefault(PERIOD, str(period()))
    st.sidebar.radio(
        "Language / 语言",
        ["zh", "en"],
        key=LANG,
        horizontal=True,
        format_func=lambda v: {"zh": "中文", "en": "English"}[v],
    )
    who = actor()
    if who is None:
        _login_form()
        return
    st.sidebar.caption(tr("Signed in as {name} ({role})", name=who.name, role=label(who.role)))
    st.sidebar.text_input(tr("Month"), key=PERIOD)
    if (refusal := period_refusal()) is not None:
        st.sidebar.error(refusal)
    keys = pages_for(who.role)
    labels = {k: tr(PAGES[k][0]) for k in keys}
    page = st.sidebar.radio(tr("Page"), keys, key="page", format_func=labels.__getitem__)
    if st.sidebar.button(tr("Sign out")):
        del st.session_state[ACTOR]
        st.rerun()
    PAGES[page or keys[0]][1]()


if __name__ == "__main__":
    main()
