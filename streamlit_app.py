"""ImpactIQ: page configuration and navigation; every page lives in pages/."""

import streamlit as st

st.set_page_config(page_title="ImpactIQ", page_icon="📈", layout="wide")
st.navigation(
    [
        st.Page("pages/data.py", title="Data", icon="📂", default=True),
        st.Page("pages/train.py", title="Train", icon="🧪"),
        st.Page("pages/simulator.py", title="Simulator", icon="🎛️"),
        st.Page("pages/segments.py", title="Segments", icon="🧩"),
    ]
).run()
