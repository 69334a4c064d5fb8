"""ImpactIQ: page configuration and navigation; every page lives in pages/."""

import streamlit as st

st.set_page_config(page_title="ImpactIQ", page_icon="📈", layout="wide")
st.navigation(
    [
        st.Page("pages/data.py", title="Data", icon=":material/table_chart:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/simulator.py", title="Simulator", icon=":material/tune:"),
        st.Page("pages/segments.py", title="Segments", icon=":material/donut_small:"),
        st.Page("pages/journeys.py", title="Journeys", icon=":material/route:"),
    ]
).run()
