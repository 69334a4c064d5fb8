"""ImpactIQ: page configuration and navigation; every page lives in pages/.

`make demo` sets IMPACTIQ_START=demo, so that the app opens on the Demo page's story."""

import os

import streamlit as st

demo_first = os.environ.get("IMPACTIQ_START") == "demo"
st.set_page_config(page_title="ImpactIQ", page_icon="📈", layout="wide")
st.navigation(
    [
        st.Page("pages/demo.py", title="Demo", icon=":material/play_circle:", default=demo_first),
        st.Page("pages/data.py", title="Data", icon=":material/table_chart:", default=not demo_first),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/simulator.py", title="Simulator", icon=":material/tune:"),
        st.Page("pages/segments.py", title="Segments", icon=":material/donut_small:"),
        st.Page("pages/journeys.py", title="Journeys", icon=":material/route:"),
        st.Page("pages/stream.py", title="Stream", icon=":material/stream:"),
    ]
).run()
